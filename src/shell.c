/*
 * shell: the interactive command line on a terminal (readline).
 *
 * readline's callback interface lets the engine's loop own the waiting: the
 * loop returns when stdin is readable and hands readline one character, so a
 * sampled thread of the target never waits on a user who is typing. Signals
 * reach leaktrap through its signalfd, never through readline's handlers:
 * Ctrl-C clears the line (or ends a running command), as in gdb.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <readline/history.h>
#include <readline/readline.h>

#include "shell.h"

#define PROMPT "(leaktrap) "
#define HISTORY_MAX 1000

static char *pending;        /* the line readline handed over, to run */
static bool got_eof;

/* readline callback: keeps the finished line for the loop to run. */
static void on_line(char *line)
{
	if (!line)
		got_eof = true;
	pending = line;
	rl_callback_handler_remove();	/* the command runs with the terminal restored */
}

/* Completion state: the word list offered at this point of the line. */
static const char *const *cand;

/* readline generator: returns the next candidate that starts with text. */
static char *next_match(const char *text, int state)
{
	static size_t i, len;
	if (!state) {
		i = 0;
		len = strlen(text);
	}
	while (cand && cand[i]) {
		const char *w = cand[i++];
		if (!strncmp(w, text, len))
			return strdup(w);
	}
	return NULL;
}

/* readline completion: finds the words before the cursor's word and offers
 * what may follow them. */
static char **complete(const char *text, int start, int end)
{
	char buf[1024], *words[64];
	int n = 0;
	rl_attempted_completion_over = 1;	/* never fall back to file names */
	snprintf(buf, sizeof(buf), "%.*s", start < (int)sizeof(buf) - 1 ? start : (int)sizeof(buf) - 1,
		 rl_line_buffer);
	for (char *save, *w = strtok_r(buf, " \t", &save); w && n < 64; w = strtok_r(NULL, " \t", &save))
		words[n++] = w;
	cand = interp_completions(words, n);
	return cand ? rl_completion_matches(text, next_match) : NULL;
}

/* Returns the history file's path in buf, or NULL without a HOME. */
static const char *history_path(char *buf, size_t len)
{
	const char *home = getenv("HOME");
	if (!home || !home[0])
		return NULL;
	snprintf(buf, len, "%s/.leaktrap_history", home);
	return buf;
}

int shell_run(struct interp *I)
{
	char hpath[4096];
	const char *hist = history_path(hpath, sizeof(hpath));
	int status = 0;
	rl_readline_name = "leaktrap";
	rl_catch_signals = 0;
	rl_catch_sigwinch = 0;
	rl_attempted_completion_function = complete;
	using_history();
	stifle_history(HISTORY_MAX);
	if (hist)
		read_history(hist);
	printf("leaktrap attached to %d (%s): 'help' lists the commands, 'quit' detaches and leaves\n",
	       I->S->pid, I->S->e.comm);
	rl_callback_handler_install(PROMPT, on_line);
	while (!I->done && !I->stopped) {
		I->S->e.input_fd = 0;
		int why = session_wait(I->S, 0);
		I->S->e.input_fd = -1;
		if (why == 3) {
			rl_callback_read_char();
		} else if (why == 1 && I->S->e.stop_signal == SIGINT) {
			/* Ctrl-C at the prompt: drop the line, stay attached */
			I->S->e.stop_signal = 0;
			rl_replace_line("", 0);
			rl_crlf();
			rl_on_new_line();
			rl_redisplay();
		} else if (why == 1) {
			I->stopped = true;
		} else if (why == 2) {
			/* the target ended; session_detach said so on stderr */
			rl_on_new_line();
			rl_redisplay();
		}
		if (got_eof) {
			printf("quit\n");
			break;
		}
		if (pending) {
			char *line = pending;
			pending = NULL;
			if (line[strspn(line, " \t")]) {
				add_history(line);
				if (hist && append_history(1, hist) != 0)
					write_history(hist);
			}
			status = interp_exec(I, line);
			free(line);
			if (!I->done && !I->stopped)
				rl_callback_handler_install(PROMPT, on_line);
		}
	}
	rl_callback_handler_remove();
	if (hist)
		history_truncate_file(hist, HISTORY_MAX);
	return status;
}
