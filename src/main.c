/*
 * main.c: wiring only. Parse the command line, start the api thread, run the
 * vmm loop.
 */
#include <stdio.h>

#include "cli.h"
#include "obs/signals.h"
#include "util/log.h"

int main(int argc, char **argv)
{
    struct cli_args args;
    int code;

    log_init();
    log_set_thread_name("main");
    if (!cli_parse(argc, argv, &args, &code))
        return code;
    if (!cli_setup_logger(&args, &code))
        return code;
    if (signals_install() < 0)
        return cli_fail(1, "Failed to register signal handlers",
                        "RegisterSignalHandlers");
    if (!cli_init_metrics(&args, &code))
        return code;
    cli_exit_success();
    return 0;
}
