package apptest

import "testing"

// TestFreePortNeverTwice: FreePort never hands a port out twice in one process, however
// often the kernel offers a just-closed one again.
func TestFreePortNeverTwice(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}
