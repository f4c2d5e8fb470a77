package main

import (
	"fmt"
	"log"
	"net/http"

	"example.com/go-static/internal/greeting"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, greeting.For(r.URL.Query().Get("name")))
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}
