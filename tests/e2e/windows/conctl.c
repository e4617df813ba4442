/* conctl EVENTS_FILE COMMAND_LINE: runs a console program the way a user's cmd.exe window does,
 * and sends it console control events, for the suite's console-mode test.
 *
 * Starts COMMAND_LINE as a child attached to this process's console (a new console first when
 * this process has none), then reads one command per line from standard input (the console):
 *   c   GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0): Ctrl-C to every process of the console
 *   b   GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, 0): Ctrl-Break likewise
 *   w   wait for the child to exit
 * and appends one line per event to EVENTS_FILE, "T_MS what [detail]" (T_MS since the child
 * started; the console itself carries the child's output):
 *   "T started PID", "T sent ctrl-c", "T send-failed ctrl-c ERROR", "T exited CODE".
 * At the end of standard input it waits for the child too. This process ignores the events it
 * sends (SetConsoleCtrlHandler(NULL, TRUE), set after the child started: it is inherited).
 * Under wine the console must be a real one: wine's GenerateConsoleCtrlEvent fails with error 12
 * unless the process's console is backed by a terminal (the suite runs conctl under `script`,
 * which gives it a pseudo-terminal, as a user's terminal window does).
 * Exit code: the child's, or 255 when it could not be started. */
#include <windows.h>
#include <stdio.h>
#include <string.h>

static DWORD start;
static FILE *events;

static void say(const char *what, const char *detail)
{
    fprintf(events, "%lu %s%s%s\n", GetTickCount() - start, what, detail ? " " : "",
            detail ? detail : "");
    fflush(events);
}

static DWORD wait_child(HANDLE process)
{
    DWORD code = 255;
    char buf[32];
    WaitForSingleObject(process, INFINITE);
    GetExitCodeProcess(process, &code);
    snprintf(buf, sizeof(buf), "%lu", code);
    say("exited", buf);
    return code;
}

int main(int argc, char **argv)
{
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    char line[64], buf[64];
    char *cmd;
    size_t len = 0;
    int i;

    if (argc < 3) {
        fprintf(stderr, "usage: conctl EVENTS_FILE COMMAND_LINE  (then c, b, w on standard input)\n");
        return 255;
    }
    events = fopen(argv[1], "a");
    if (!events) {
        fprintf(stderr, "conctl: cannot open %s\n", argv[1]);
        return 255;
    }
    for (i = 2; i < argc; i++) len += strlen(argv[i]) + 3;
    cmd = (char *)calloc(len + 1, 1);
    for (i = 2; i < argc; i++) {
        if (i > 2) strcat(cmd, " ");
        if (strchr(argv[i], ' ')) { strcat(cmd, "\""); strcat(cmd, argv[i]); strcat(cmd, "\""); }
        else strcat(cmd, argv[i]);
    }
    if (!GetConsoleWindow() && !AllocConsole() && GetLastError() != ERROR_ACCESS_DENIED) {
        snprintf(buf, sizeof(buf), "%lu", GetLastError());
        say("no-console", buf);
    }
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    start = GetTickCount();
    if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        snprintf(buf, sizeof(buf), "%lu", GetLastError());
        say("start-failed", buf);
        return 255;
    }
    /* Only now: a child inherits the "ignore Ctrl-C" attribute from its parent. */
    SetConsoleCtrlHandler(NULL, TRUE);
    snprintf(buf, sizeof(buf), "%lu", pi.dwProcessId);
    say("started", buf);
    while (fgets(line, sizeof(line), stdin)) {
        DWORD event;
        const char *name;
        if (line[0] == 'w') break;
        if (line[0] == 'c') { event = CTRL_C_EVENT; name = "ctrl-c"; }
        else if (line[0] == 'b') { event = CTRL_BREAK_EVENT; name = "ctrl-break"; }
        else continue;
        if (GenerateConsoleCtrlEvent(event, 0)) {
            say("sent", name);
        } else {
            snprintf(buf, sizeof(buf), "%s %lu", name, GetLastError());
            say("send-failed", buf);
        }
    }
    return (int)wait_child(pi.hProcess);
}
