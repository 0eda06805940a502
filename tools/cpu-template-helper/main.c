/*
 * cpu-template-helper: upstream's tool for custom CPU templates (template
 * dump | strip | verify, fingerprint dump | compare). Everything is in
 * src/cputmpl/ (docs/tools.md).
 */
#include "cputmpl/cputmpl.h"

int main(int argc, char **argv)
{
    return cputmpl_main(argc, argv);
}
