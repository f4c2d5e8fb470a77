#!/bin/sh
# Prints the greeting chosen at build time.
echo "@GREETING@, ${1:-world}"
