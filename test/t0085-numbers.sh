#!/bin/bash
# Integer and size edges (the qmail CVE-2005-1513 family): SIZE= and -s at
# and past every width a number could overflow in.
. "$(dirname "$0")/lib.sh"

# mail_size LIMIT VALUE: the reply code to MAIL FROM:<a@b> SIZE=VALUE
mail_size() {
	printf "HELO c\r\nMAIL FROM:<a@b> SIZE=%s\r\n" "$2" >in &&
	raw_session -s "$1" -- "$RECORD" <in &&
	tail -n 1 out | cut -c1-3
}

size_case() {
	test_expect_success "-s $1, SIZE=$2: $3" "
		[ \"\$(mail_size '$1' '$2')\" = $3 ]
	"
}
size_case 10485760 0 250
size_case 10485760 10485760 250
size_case 10485760 10485761 552
size_case 10485760 2147483647 552
size_case 10485760 2147483648 552
size_case 10485760 4294967295 552
size_case 10485760 4294967296 552
size_case 10485760 4294967306 552
size_case 10485760 9223372036854775807 552
size_case 10485760 9223372036854775808 552
size_case 10485760 18446744073709551615 552
size_case 10485760 18446744073709551616 552
size_case 10485760 18446744083709551616 552
size_case 10485760 99999999999999999999 552
size_case 10485760 000000000000000000000000000000100 250
size_case 10485760 12a 501
size_case 10485760 0x10 501
size_case 10485760 +5 501
size_case 10485760 " 5" 501
size_case 18446744073709551615 18446744073709551615 250
size_case 18446744073709551615 18446744073709551616 552
size_case 4294967296 4294967296 250
size_case 4294967296 4294967297 552
size_case 0 18446744073709551616 250

test_expect_success '-s 2^64-1 is taken and advertised as it is' '
	printf "EHLO c\r\n" | raw_session -s 18446744073709551615 -- true &&
	grep -q "^250-SIZE 18446744073709551615.$" out
'

test_expect_success '-r at its largest (100000) and past it' '
	printf "QUIT\r\n" | raw_session -r 100000 -- true &&
	expect_status 0 &&
	"$SMTPD" -r 100001 true </dev/null >out 2>err; [ $? = 64 ]
'

test_expect_success '-t 86400 is taken, -t 86401 is not' '
	printf "QUIT\r\n" | raw_session -t 86400 -- true &&
	expect_status 0 &&
	"$SMTPD" -t 86401 true </dev/null >out 2>err; [ $? = 64 ]
'

test_done
