// hooks_header.c compiled as C++ (it is valid as both).
#include "hooks_header.c"
