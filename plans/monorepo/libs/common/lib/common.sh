# Shared helpers for every service.
log() { echo "[$SERVICE] $*"; }
