# Stands in for a test whose tool was not found at configure time: the test
# fails (it never skips) and says what to install.
message(FATAL_ERROR "${TOOL} was not found when CMake configured this build; "
                    "install it (${HINT}) and re-run cmake")
