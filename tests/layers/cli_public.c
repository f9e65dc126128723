/* A probe of the layer walls (tests/test_layers.sh): the CLI's own header (with mien.h) compiles
 * as the CLI, showing that the forbidden probes fail for the wall alone. expect: allowed */
#include "cli/cli.h"
