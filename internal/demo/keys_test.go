package demo

import "testing"

func TestKeySourceHandsOutDistinctKeys(t *testing.T) {
	ks := newKeySource(2, 2)
	defer ks.Close()
	seen := map[string]bool{}
	// One more than planned: the source must generate it on the spot
	// rather than block or repeat a key.
	for i := range 3 {
		k, err := ks.Next()
		if err != nil {
			t.Fatal(err)
		}
		if k.N.BitLen() != rsaKeyBits {
			t.Fatalf("key %d: %d bits", i, k.N.BitLen())
		}
		if seen[k.N.String()] {
			t.Fatalf("key %d handed out twice", i)
		}
		seen[k.N.String()] = true
	}
}
