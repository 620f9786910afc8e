package frontendimage

import "testing"

func TestRepository(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000/stagex-frontend:test": "127.0.0.1:5000/stagex-frontend",
		"127.0.0.1:5000/stagex-frontend":      "127.0.0.1:5000/stagex-frontend",
		"reg.example/a/b:1":                   "reg.example/a/b",
	} {
		if got := repository(in); got != want {
			t.Errorf("repository(%q) = %q, want %q", in, got, want)
		}
	}
}
