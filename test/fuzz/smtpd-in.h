/*
 * smtpd.c itself, in a fuzz target: its main() renamed, and exit() turned
 * into session_end(). A target whose inputs may end a session defines
 * SESSION_ENDS and its own session_end() (a longjmp() back to the driver)
 * before including this; for any other, nothing it calls may end one, and
 * session_end() aborts.
 */
#ifndef SESSION_ENDS
static _Noreturn void session_end(int status)
{
	(void)status;
	abort(); /* nothing here may end a session */
}
#endif

#define exit(status) session_end(status)
#define main smtpd_main
#include "../../smtpd.c"
#undef exit
#undef main
