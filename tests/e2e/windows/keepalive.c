/* Keeps wine's server (and with it services.exe and every service it runs) alive for the
 * suite's lifetime: wine tears its services down once the last ordinary program exits.
 * The suite starts this in the background and kills it on exit. */
#include <windows.h>

int main(void)
{
    Sleep(INFINITE);
    return 0;
}
