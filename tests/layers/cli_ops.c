/* A probe of the layer walls (tests/test_layers.sh): nor may the CLI reach the operations table
 * behind the service (it calls operations by name through mien.h). expect: forbidden */
#include "api/ops.h"
