/* svcctl NAME CONTROL: sends a service control code, for the suite.
 * svcctl NAME watch MS UNTIL: prints one line per change of the service's status, "T_MS
 * STATE CHECKPOINT WAIT_HINT WIN32_EXIT SERVICE_EXIT" (T_MS since the start, STATE as
 * sc.exe names it), polling every 20 ms, until the state is UNTIL (RUNNING, or STOPPED after
 * another state was seen: exit 0) or MS pass (exit 2): one wine process instead of a wine
 * start-up per `sc query`. wine 8.0's sc.exe has no
 * `sc control` (nor `sc config`, `sc qc`, `sc failureflag`), so PARAMCHANGE, PRESHUTDOWN and
 * SHUTDOWN (the latter two only when the SCM allows it) are sent with ControlService here. CONTROL is paramchange, stop, preshutdown,
 * shutdown or interrogate. Prints the state the service reports back; exit 0 when accepted,
 * otherwise the Win32 error code (1 when the arguments are wrong). */
#include <windows.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static const char *state_name(DWORD state)
{
    switch (state) {
    case SERVICE_STOPPED: return "STOPPED";
    case SERVICE_START_PENDING: return "START_PENDING";
    case SERVICE_STOP_PENDING: return "STOP_PENDING";
    case SERVICE_RUNNING: return "RUNNING";
    case SERVICE_CONTINUE_PENDING: return "CONTINUE_PENDING";
    case SERVICE_PAUSE_PENDING: return "PAUSE_PENDING";
    case SERVICE_PAUSED: return "PAUSED";
    default: return "UNKNOWN";
    }
}

static int watch(const char *name, DWORD timeout_ms, DWORD until)
{
    int moved = 0;
    SC_HANDLE manager, service;
    SERVICE_STATUS status, last;
    DWORD start = GetTickCount(), now;
    int first = 1;

    manager = OpenSCManagerA(NULL, NULL, SC_MANAGER_CONNECT);
    if (!manager) return (int)GetLastError();
    service = OpenServiceA(manager, name, SERVICE_QUERY_STATUS);
    if (!service) {
        DWORD err = GetLastError();
        printf("0 MISSING 0 0 %lu 0\n", err);
        fflush(stdout);
        return (int)err;
    }
    memset(&last, 0, sizeof(last));
    for (;;) {
        if (!QueryServiceStatus(service, &status)) return (int)GetLastError();
        now = GetTickCount() - start;
        if (first || status.dwCurrentState != last.dwCurrentState
            || status.dwCheckPoint != last.dwCheckPoint || status.dwWaitHint != last.dwWaitHint
            || status.dwWin32ExitCode != last.dwWin32ExitCode
            || status.dwServiceSpecificExitCode != last.dwServiceSpecificExitCode) {
            printf("%lu %s %lu %lu %lu %lu\n", now, state_name(status.dwCurrentState),
                   status.dwCheckPoint, status.dwWaitHint, status.dwWin32ExitCode,
                   status.dwServiceSpecificExitCode);
            fflush(stdout);
            last = status;
            first = 0;
        }
        if (status.dwCurrentState != SERVICE_STOPPED) moved = 1;
        if (status.dwCurrentState == until && (until != SERVICE_STOPPED || moved)) break;
        if (now > timeout_ms) return 2;
        Sleep(20);
    }
    CloseServiceHandle(service);
    CloseServiceHandle(manager);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct { const char *name; DWORD code; } controls[] = {
        { "paramchange", SERVICE_CONTROL_PARAMCHANGE },
        { "stop", SERVICE_CONTROL_STOP },
        { "preshutdown", SERVICE_CONTROL_PRESHUTDOWN },
        { "shutdown", SERVICE_CONTROL_SHUTDOWN },
        { "interrogate", SERVICE_CONTROL_INTERROGATE },
    };
    SC_HANDLE manager, service;
    SERVICE_STATUS status;
    DWORD code = 0, err = 0;
    unsigned i;
    int found = 0;

    if (argc == 5 && !_stricmp(argv[2], "watch"))
        return watch(argv[1], (DWORD)atol(argv[3]),
                     _stricmp(argv[4], "RUNNING") ? SERVICE_STOPPED : SERVICE_RUNNING);
    if (argc != 3) {
        fprintf(stderr, "usage: svcctl NAME paramchange|stop|preshutdown|shutdown|interrogate\n"
                        "       svcctl NAME watch TIMEOUT_MS RUNNING|STOPPED\n");
        return 1;
    }
    for (i = 0; i < sizeof(controls) / sizeof(controls[0]); i++) {
        if (!_stricmp(argv[2], controls[i].name)) {
            code = controls[i].code;
            found = 1;
        }
    }
    if (!found) {
        fprintf(stderr, "svcctl: unknown control %s\n", argv[2]);
        return 1;
    }
    manager = OpenSCManagerA(NULL, NULL, SC_MANAGER_CONNECT);
    if (!manager) {
        err = GetLastError();
        fprintf(stderr, "svcctl: OpenSCManager failed: %lu\n", err);
        return (int)err;
    }
    service = OpenServiceA(manager, argv[1], SERVICE_ALL_ACCESS);
    if (!service) {
        err = GetLastError();
        fprintf(stderr, "svcctl: OpenService %s failed: %lu\n", argv[1], err);
        CloseServiceHandle(manager);
        return (int)err;
    }
    if (!ControlService(service, code, &status)) {
        err = GetLastError();
        fprintf(stderr, "svcctl: ControlService %s %s failed: %lu\n", argv[1], argv[2], err);
    } else {
        printf("state=%lu checkpoint=%lu wait_hint=%lu\n", status.dwCurrentState,
               status.dwCheckPoint, status.dwWaitHint);
    }
    CloseServiceHandle(service);
    CloseServiceHandle(manager);
    return (int)err;
}
