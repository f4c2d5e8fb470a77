// Package greeting builds the service's answers.
package greeting

// For returns the greeting for name, or for the world when name is empty.
func For(name string) string {
	if name == "" {
		name = "world"
	}
	return "hello, " + name
}
