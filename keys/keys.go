package keys

import (
	"bytes"

	"github.com/sluice-cdc/sluice"
)

// None reports whether records of t carry a null key.
func None(t *sluice.Table) bool { return len(t.Key) == 0 }

// Equal reports whether rows a and b of t have the same key.
func Equal(t *sluice.Table, a, b sluice.Row) bool {
	for _, i := range t.Key {
		if !valueEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

func valueEqual(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && bytes.Equal(ab, bb)
	}
	return a == b
}
