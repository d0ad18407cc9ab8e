package embedded

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/store"
)

// TestFerretDBSQLite starts the embedded default's database and creates
// Herald's indexes on it, as `make run` does.
func TestFerretDBSQLite(t *testing.T) {
	f, err := StartFerretDB(FerretDBOptions{SQLiteDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Connect(ctx, f.URI(), "herald")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	if err := st.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestFerretDBSQLiteRestart reopens the same files, as a second `make run` does.
func TestFerretDBSQLiteRestart(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		f, err := StartFerretDB(FerretDBOptions{SQLiteDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		st, err := store.Connect(ctx, f.URI(), "herald")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.EnsureIndexes(ctx); err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
		_ = st.Close(ctx)
		cancel()
		f.Close()
	}
}
