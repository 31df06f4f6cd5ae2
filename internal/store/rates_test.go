package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/pgtest"
	"github.com/autohook/autohook/internal/store"
)

// BenchmarkReserveRate measures one slot reservation (what a request of a
// step with maxPerSecond adds), on each database, from parallel callers.
func BenchmarkReserveRate(b *testing.B) {
	for _, db := range []struct{ name, url string }{
		{"sqlite", "sqlite:" + b.TempDir() + "/autohook.db"},
		{"postgres", ""},
	} {
		b.Run(db.name, func(b *testing.B) {
			url := db.url
			if url == "" {
				url = pgtest.NewDatabase(b)
			}
			st, err := store.Open(context.Background(), store.Config{URL: url})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close(context.Background())
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := st.ReserveRate(context.Background(), "org", "aut", "s", time.Microsecond); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
