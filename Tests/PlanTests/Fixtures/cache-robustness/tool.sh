#!/bin/sh
echo "tool $*"
