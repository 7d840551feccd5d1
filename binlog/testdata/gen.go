//go:build ignore

// gen.go regenerates the binlog files that reader_test.go decodes offline.
//
//	go run ./binlog/testdata/gen.go
//	go test ./binlog -run TestHandleGolden -update
//
// It starts a throwaway MariaDB with package local (binlog_format=ROW,
// binlog_row_image=FULL, binlog_row_metadata=FULL), runs the workload below
// on one connection, rotates the binary log and copies the closed files
// mysql-bin.000001 and mysql-bin.000002 into this directory, then stops the
// server. The files carry real commit times and GTIDs, so regenerating them
// changes the golden file: rerun the test with -update and review the diff.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/deploy/local"
)

// workload writes everything reader_test.go asserts on. The comments name
// the case each group exercises.
func workload() []string {
	s := []string{
		// The statements are UTF-8: go-mysql's handshake asks for a collation
		// MariaDB 10.11 does not know, which leaves the session in latin1.
		"SET NAMES utf8mb4",
		// Literals are read as UTC, so TIMESTAMP values match the golden file.
		"SET time_zone = '+00:00'",
		"CREATE DATABASE shop",
		"CREATE DATABASE other",
		// Many column types; `secret` is excluded from the capture.
		"CREATE TABLE shop.items (" +
			"id INT UNSIGNED NOT NULL PRIMARY KEY," +
			"big BIGINT UNSIGNED, tiny TINYINT, price DECIMAL(20,6)," +
			"name VARCHAR(64) CHARACTER SET utf8mb4, legacy TEXT CHARACTER SET latin1," +
			"size ENUM('small','medium','large'), tags SET('red','green','blue','gold')," +
			"flags BIT(10), made DATETIME(6), seen TIMESTAMP(3) NULL DEFAULT NULL," +
			"day DATE, span TIME(3), yr YEAR, f FLOAT, d DOUBLE," +
			"code BINARY(4), raw BLOB, doc JSON, secret VARCHAR(16)" +
			") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
		// Composite key; its key changes and it gains a column later.
		"CREATE TABLE shop.orders (region CHAR(2) NOT NULL, no BIGINT UNSIGNED NOT NULL," +
			"qty INT NOT NULL, note VARCHAR(32), PRIMARY KEY (region, no)) ENGINE=InnoDB",
		// Excluded by the selection, written in the same transactions.
		"CREATE TABLE shop.audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(64)) ENGINE=InnoDB",
		// Non-transactional: its changes end with a COMMIT query, not an XID.
		"CREATE TABLE shop.notes (id INT PRIMARY KEY, body VARCHAR(64)) ENGINE=MyISAM",
		// No primary key.
		"CREATE TABLE shop.loglines (at INT, line VARCHAR(64)) ENGINE=InnoDB",
		// Signed integers after a YEAR column: MariaDB counts YEAR among the
		// numeric columns of the table map's signedness bitmap.
		"CREATE TABLE shop.years (id INT PRIMARY KEY, y YEAR, n INT, u INT UNSIGNED, m INT) ENGINE=InnoDB",
		// Outside the selected database.
		"CREATE TABLE other.t (id INT PRIMARY KEY, v VARCHAR(32)) ENGINE=InnoDB",

		// Single-row insert with extreme values of every type.
		"INSERT INTO shop.items VALUES (4294967295, 18446744073709551615, -128, -12345678901234.500000," +
			"'caf\u00e9 \U0001F600', 'Gr\u00fc\u00dfe \u00e0 la fran\u00e7aise', 'large', 'red,gold'," +
			"b'1010101010', '2024-02-29 23:59:59.123456', '2024-03-31 01:30:00.250'," +
			"'0000-00-00', '-838:59:59.000', 2155, 3.1415927, 2.718281828459045," +
			"'ab', x'00ff10', '{\"b\": [1, 2.5, \"x\"], \"a\": null}', 'hunter2')",
		// Multi-row insert with NULLs and small values.
		"INSERT INTO shop.items (id, big, tiny, price, name, size, tags, flags, made, seen, day, span, yr, f, d, code, raw, doc, secret) VALUES " +
			"(1, 0, 127, 0.000001, '', 'small', '', b'0', '1000-01-01 00:00:00', '1970-01-01 00:00:01', '2000-01-01', '00:00:00.5', 1901, -0.0, -1e308, 'wxyz', '', '[]', 's')," +
			"(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)," +
			"(3, 42, -1, 99999999999999.999999, '\u65e5\u672c\u8a9e', 'medium', 'red,green,blue,gold', b'1111111111', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999', '9999-12-31', '838:59:59.999', 0, 1e-38, 5e-324, x'00000000', x'deadbeef', '{}', 'x')",
		"INSERT INTO shop.orders VALUES ('eu', 1, 5, 'first'), ('us', 1, 7, 'second'), ('eu', 2, 1, NULL)",
		"INSERT INTO shop.loglines VALUES (1, 'started'), (1, 'started')",
		"INSERT INTO shop.years VALUES (1, 2024, -5, 4000000000, -7)",
		"INSERT INTO other.t VALUES (1, 'elsewhere')",

		// Updates and deletes, one row and many.
		"UPDATE shop.items SET name = 'caf\u00e9 \U0001F600\U0001F680', price = price + 1, seen = '2024-04-01 12:00:00.001' WHERE id = 4294967295",
		"UPDATE shop.items SET tiny = tiny - 1 WHERE id IN (1, 3)",
		"DELETE FROM shop.items WHERE id = 2",
		"UPDATE shop.loglines SET line = 'restarted' WHERE at = 1",
		"DELETE FROM shop.loglines LIMIT 1",

		// A primary-key update.
		"UPDATE shop.orders SET region = 'ap', no = 9 WHERE region = 'us' AND no = 1",

		// One transaction touching a selected and an excluded table.
		"BEGIN",
		"INSERT INTO shop.orders VALUES ('eu', 3, 2, 'with audit')",
		"INSERT INTO shop.audit (what) VALUES ('order eu-3')",
		"UPDATE other.t SET v = 'still elsewhere' WHERE id = 1",
		"COMMIT",

		// A non-transactional write.
		"INSERT INTO shop.notes VALUES (1, 'myisam')",
		"UPDATE shop.notes SET body = 'myisam, again' WHERE id = 1",
	}

	// A DDL that inserts a column in the middle, then more changes.
	s = append(s,
		"ALTER TABLE shop.orders ADD COLUMN status ENUM('new','paid','shipped') NOT NULL DEFAULT 'new' AFTER qty",
		"INSERT INTO shop.orders VALUES ('eu', 4, 3, 'paid', 'after alter')",
		"UPDATE shop.orders SET status = 'shipped' WHERE region = 'eu' AND no = 1",
		"DELETE FROM shop.orders WHERE region = 'eu' AND no = 2",
	)

	// A transaction with many rows: its statements span several rows events.
	var vals []string
	for i := 100; i < 250; i++ {
		vals = append(vals, fmt.Sprintf("('eu', %d, %d, 'paid', 'bulk order number %d')", i, i%7, i))
	}
	s = append(s,
		"BEGIN",
		"INSERT INTO shop.orders VALUES "+strings.Join(vals, ", "),
		"INSERT INTO shop.audit (what) VALUES ('bulk')",
		"UPDATE shop.orders SET qty = qty + 1, note = CONCAT(note, ' (updated)') WHERE region = 'eu' AND no >= 100",
		"DELETE FROM shop.orders WHERE region = 'eu' AND no >= 200",
		"COMMIT",
	)

	// A rolled-back transaction that also wrote a non-transactional table:
	// MariaDB logs only the non-transactional write, as a transaction of
	// its own ending in a COMMIT query.
	s = append(s,
		"BEGIN",
		"INSERT INTO shop.items (id, name) VALUES (77, 'rolled back')",
		"INSERT INTO shop.notes VALUES (2, 'kept despite rollback')",
		"ROLLBACK",
	)

	// Savepoints: MariaDB logs SAVEPOINT and ROLLBACK TO as query events
	// inside the transaction. The InnoDB row rolled back to s1 vanishes;
	// the MyISAM row rolled back to s2 is logged at once as a transaction
	// of its own, ahead of this one.
	s = append(s,
		"BEGIN",
		"INSERT INTO shop.items (id, name) VALUES (78, 'kept')",
		"SAVEPOINT s1",
		"INSERT INTO shop.items (id, name) VALUES (79, 'rolled back to s1')",
		"ROLLBACK TO SAVEPOINT s1",
		"SAVEPOINT s2",
		"INSERT INTO shop.notes VALUES (3, 'kept despite rollback to s2')",
		"ROLLBACK TO SAVEPOINT s2",
		"UPDATE shop.items SET name = 'kept, updated' WHERE id = 78",
		"COMMIT",
	)

	// Rotation, then changes in the next file: the table maps come again.
	s = append(s,
		"FLUSH BINARY LOGS",
		"INSERT INTO shop.items (id, name, secret) VALUES (5, 'after rotation', 'no')",
		"UPDATE shop.orders SET qty = 0 WHERE region = 'ap' AND no = 9",
		"INSERT INTO other.t VALUES (2, 'still not selected')",
		"DELETE FROM shop.items WHERE id = 1",
		"DELETE FROM shop.notes",
		// Close the second file so that it ends with a rotate event.
		"FLUSH BINARY LOGS",
	)
	return s
}

func main() {
	log.SetFlags(0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	db, err := local.StartMariaDB(ctx, local.MariaDBOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Stop()
	if err := db.Exec(ctx, workload()...); err != nil {
		db.Stop()
		log.Fatal(err)
	}
	for _, name := range []string{"mysql-bin.000001", "mysql-bin.000002"} {
		b, err := os.ReadFile(filepath.Join(db.Dir(), "data", name))
		if err != nil {
			db.Stop()
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("binlog", "testdata", name), b, 0o644); err != nil {
			db.Stop()
			log.Fatalf("%v (run from the module root)", err)
		}
		fmt.Printf("%s: %d bytes\n", name, len(b))
	}
}
