/*
 * main.c: wiring only. Parse the command line, start the api thread, run the
 * vmm loop.
 */
#include <stdio.h>

#include "util/log.h"

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    log_init();
    log_set_thread_name("main");
    log_info("Running Firecracker v1.17.0-dev");
    return 0;
}
