package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
)

// EnvPostgresDSN names the environment variable with a PostgreSQL DSN for
// tests; .ci/run sets it after starting Debian's postgresql.
const EnvPostgresDSN = "MDOC_TEST_POSTGRES_DSN"

// PostgresDSN returns a DSN for a fresh, empty schema in the database named
// by MDOC_TEST_POSTGRES_DSN, dropped when the test ends. It skips the test
// loudly when the variable is unset or the server is unreachable, unless CI
// is set, where that is a failure: CI installs PostgreSQL on purpose.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgresDSN)
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set in CI; .ci/run should start PostgreSQL and set it", EnvPostgresDSN)
		}
		t.Skipf("SKIPPING PostgreSQL: set %s (e.g. postgres://mnc:mnc@127.0.0.1:5432/mnc_test?sslmode=disable) to run the store suite on PostgreSQL", EnvPostgresDSN)
	}
	ctx := context.Background()
	db, err := sql.Open("pgx", base)
	if err == nil {
		err = db.PingContext(ctx)
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL at %s: %v", EnvPostgresDSN, err)
		}
		t.Skipf("SKIPPING PostgreSQL: %s unreachable: %v", EnvPostgresDSN, err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		db.Close()
	})
	return withSearchPath(base, schema)
}

func withSearchPath(dsn, schema string) string {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " search_path=" + schema
}
