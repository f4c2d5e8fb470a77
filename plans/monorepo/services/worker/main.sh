# The worker service.
main() {
  log "worker service listening on port ${PORT:-8080}"
}
