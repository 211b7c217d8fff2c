// Declarations only (see include/CFuzzDriver.h); SwiftPM needs a source file.
#include "CFuzzDriver.h"
