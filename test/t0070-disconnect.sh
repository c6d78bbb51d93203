#!/bin/bash
# A client that goes away, or stops sending, inside DATA never causes a
# delivery: the maildrop only ever sees a message that ended with CRLF.CRLF.
. "$(dirname "$0")/lib.sh"

head="HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"

cut_at() {
	test_expect_success "end of input $1: no delivery" "
		printf '$head$2' >in &&
		raw_session -- \"\$RECORD\" <in &&
		expect_deliveries 0 &&
		expect_status 0 &&
		tail -n 1 out | grep -q '^354 '
	"
}
cut_at 'right after 354' ''
cut_at 'in the first line' 'Subject: x'
cut_at 'after a CR LF' 'Subject: x\r\n'
cut_at 'after CR LF .' 'x\r\n.'
cut_at 'after CR LF . CR' 'x\r\n.\r'
cut_at 'after a lone . LF' 'x\r\n.\n'
cut_at 'after a stuffed dot line' 'x\r\n..\r\n'

test_expect_success 'a client that stops sending inside DATA: 421 after -t, no delivery' '
	{ printf "$head"; printf "Subject: x\r\n"; sleep 4; } |
		raw_session -t 1 -- "$RECORD" &&
	tail -n 1 out | grep -q "^421 4.4.2 mx.example Timeout" &&
	expect_status 75 &&
	expect_deliveries 0
'

test_expect_success 'a client that trickles DATA past its deadline: 421, no delivery' '
	{ printf "$head"; for i in 1 2 3 4 5 6; do printf "x"; sleep 0.5; done;
	  printf "\r\n.\r\n"; } | raw_session -t 2 -- "$RECORD" &&
	tail -n 1 out | grep -q "^421 " &&
	expect_deliveries 0
'

test_expect_success 'a message cut at every offset: delivered only if whole' '
	printf "$head" >head &&
	printf "Subject: x\r\n\r\n..dot\r\nend\r\n.\r\n" >body &&
	size=$(wc -c <body) &&
	for i in $(seq 0 $size); do
		{ cat head; head -c $i body; } >in &&
		rm -rf drops && mkdir drops &&
		raw_session -- "$RECORD" <in &&
		if [ $i = $size ]; then
			expect_deliveries 1 &&
			expect_message 1 <<-\EOF || return 1
			Subject: x
			
			.dot
			end
			EOF
		else
			expect_deliveries 0 || { echo "cut at $i"; return 1; }
		fi
	done
'

test_expect_success 'a two-message session cut at every offset: one delivery per end sent' '
	printf "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: one\r\n\r\n..1\r\n.\r\n" >session &&
	end1=$(wc -c <session) &&
	printf "MAIL FROM:<>\r\nRCPT TO:<e@f>\r\nRCPT TO:<g@h>\r\nDATA\r\nSubject: two\r\n\r\n.\r\n" >>session &&
	end2=$(wc -c <session) &&
	printf "QUIT\r\n" >>session &&
	size=$(wc -c <session) &&
	printf "Subject: one\n\n.1\n" >one &&
	printf "Subject: two\n\n" >two &&
	for i in $(seq 0 $size); do
		head -c $i session >in &&
		rm -rf drops && mkdir drops &&
		raw_session -- "$RECORD" %F <in &&
		status=$(cat status) &&
		{ [ "$status" = 0 ] || [ "$status" = 75 ]; } ||
			{ echo "cut at $i: exit $status"; return 1; } &&
		want=$(( (i >= end1) + (i >= end2) )) &&
		expect_deliveries $want || { echo "cut at $i"; return 1; }
		if [ $want -ge 1 ]; then
			tail -n +4 drops/1.msg | cmp - one || return 1
		fi
		if [ $want = 2 ]; then
			tail -n +4 drops/2.msg | cmp - two &&
			printf "\ne@f\ng@h\n" | cmp - drops/2.argv || return 1
		fi
	done &&
	echo "$((size + 1)) cuts checked"
'

test_done
