/* The header on its own, compiled as C with -Wall -Wextra -Werror -pedantic. */
#include "graphbit_alloc.h"

int gb_header_only_c(void);
int gb_header_only_c(void) { return GB_VERSION_NUMBER > 0; }
