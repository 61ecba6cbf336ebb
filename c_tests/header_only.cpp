// The header on its own, compiled as C++ with -Wall -Wextra -Werror -pedantic.
#include "graphbit_alloc.h"

int gb_header_only_cpp();
int gb_header_only_cpp() { return GB_VERSION_NUMBER > 0; }
