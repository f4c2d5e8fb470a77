#!/bin/sh
exec hugo "$@"
