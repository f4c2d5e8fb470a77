# The web service.
main() {
  log "web service listening on port ${PORT:-8080}"
}
