# The api service.
main() {
  log "api service listening on port ${PORT:-8080}"
}
