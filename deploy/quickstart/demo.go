package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
)

// The sample database. Loading it drops and recreates it, so every run
// starts from the same rows.
var schemaStatements = []string{
	"DROP DATABASE IF EXISTS `shop`",
	"CREATE DATABASE `shop` CHARACTER SET utf8mb4",
	"CREATE TABLE `shop`.`customers` (" +
		"`id` INT PRIMARY KEY, " +
		"`name` VARCHAR(100), " +
		"`email` VARCHAR(200), " +
		"`created_at` DATETIME(6))",
	"CREATE TABLE `shop`.`orders` (" +
		"`id` BIGINT UNSIGNED PRIMARY KEY, " +
		"`customer_id` INT, " +
		"`total` DECIMAL(10,2), " +
		"`status` ENUM('new','paid','shipped'), " +
		"`placed_at` TIMESTAMP(3) NULL)",
	"INSERT INTO `shop`.`customers` VALUES " +
		"(1, 'Ada Lovelace', 'ada@example.com', '2024-01-15 09:30:00.123456'), " +
		"(2, 'Grace Hopper', 'grace@example.com', '2024-02-01 14:05:10.000001'), " +
		"(3, 'Alan Turing', 'alan@example.com', '2024-03-10 08:00:00')",
	"INSERT INTO `shop`.`orders` VALUES " +
		"(1001, 1, 19.99, 'paid', '2024-03-11 10:00:00.250'), " +
		"(1002, 2, 5.00, 'new', '2024-03-12 11:30:00'), " +
		"(18446744073709551615, 3, 1234.56, 'shipped', '2024-03-13 12:45:30.999')",
}

// snapshotRows is how many rows schemaStatements inserts: the snapshot
// reads each of them as one op r record.
const snapshotRows = 6

// pgDatabase is the PostgreSQL database of the sample; its tables live in
// the schema shop, so that topics read <prefix>.shop.<table> on both
// sources.
const pgDatabase = "shop"

// pgPublication is the publication the owner of the sample tables creates
// and sluice's configuration names: sluice's user does not own the tables,
// so it could not create it (docs/postgresql.md).
const pgPublication = "sluice_quickstart_pg"

// pgGrants says in words what the PostgreSQL role gets.
const pgGrants = "LOGIN REPLICATION and SELECT on the tables of schema shop"

// pgAdminStatements run in the database postgres: they drop the previous
// run's replication slots on the sample database (a database with a slot
// cannot be dropped), recreate the database and the role sluice with
// password.
func pgAdminStatements(password string) []string {
	return []string{
		`SELECT pg_catalog.pg_drop_replication_slot("slot_name") FROM pg_catalog.pg_replication_slots WHERE "database" = ` + pgString(pgDatabase),
		`DROP DATABASE IF EXISTS "` + pgDatabase + `" WITH (FORCE)`,
		`CREATE DATABASE "` + pgDatabase + `" ENCODING 'UTF8'`,
		`DROP ROLE IF EXISTS "` + sluiceUser + `"`,
		`CREATE ROLE "` + sluiceUser + `" WITH LOGIN REPLICATION PASSWORD ` + pgString(password),
	}
}

// pgSchemaStatements run in the sample database: the same tables and rows
// as schemaStatements, the publication, and the role's privileges.
var pgSchemaStatements = []string{
	`CREATE SCHEMA "shop"`,
	`CREATE TYPE "shop"."order_status" AS ENUM ('new', 'paid', 'shipped')`,
	`CREATE TABLE "shop"."customers" (` +
		`"id" integer PRIMARY KEY, ` +
		`"name" varchar(100), ` +
		`"email" varchar(200), ` +
		`"created_at" timestamp(6))`,
	`CREATE TABLE "shop"."orders" (` +
		`"id" bigint PRIMARY KEY, ` +
		`"customer_id" integer, ` +
		`"total" numeric(10,2), ` +
		`"status" "shop"."order_status", ` +
		`"placed_at" timestamptz(3))`,
	`INSERT INTO "shop"."customers" VALUES ` +
		`(1, 'Ada Lovelace', 'ada@example.com', '2024-01-15 09:30:00.123456'), ` +
		`(2, 'Grace Hopper', 'grace@example.com', '2024-02-01 14:05:10.000001'), ` +
		`(3, 'Alan Turing', 'alan@example.com', '2024-03-10 08:00:00')`,
	`INSERT INTO "shop"."orders" VALUES ` +
		`(1001, 1, 19.99, 'paid', '2024-03-11 10:00:00.250+00'), ` +
		`(1002, 2, 5.00, 'new', '2024-03-12 11:30:00+00'), ` +
		`(9223372036854775807, 3, 1234.56, 'shipped', '2024-03-13 12:45:30.999+00')`,
	// Complete before-images for customers; orders keeps the default (the
	// primary key), so its updates and deletes show the headers that name
	// the columns PostgreSQL did not send.
	`ALTER TABLE "shop"."customers" REPLICA IDENTITY FULL`,
	`CREATE PUBLICATION "` + pgPublication + `" FOR TABLE "shop"."customers", "shop"."orders" WITH (publish_via_partition_root = true)`,
	`GRANT USAGE ON SCHEMA "shop" TO "` + sluiceUser + `"`,
	`GRANT SELECT ON ALL TABLES IN SCHEMA "shop" TO "` + sluiceUser + `"`,
}

// sluiceUser is the account sluice connects as.
const sluiceUser = "sluice"

// sluiceGrants are the privileges sluice needs: SELECT to read the tables,
// RELOAD for the snapshot's brief global read lock, REPLICATION SLAVE to
// read the binlog and BINLOG MONITOR (MariaDB's name for REPLICATION CLIENT)
// to read the binlog position.
const sluiceGrants = "SELECT, RELOAD, REPLICATION SLAVE, BINLOG MONITOR"

// userStatements (re)creates the sluice user with password and grants it
// exactly sluiceGrants. It connects over TCP from 127.0.0.1.
func userStatements(password string) []string {
	account := "'" + sluiceUser + "'@'127.0.0.1'"
	return []string{
		"CREATE OR REPLACE USER " + account + " IDENTIFIED BY " + sqlString(password),
		"GRANT " + sluiceGrants + " ON *.* TO " + account,
	}
}

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// pgString quotes s as a PostgreSQL string literal
// (standard_conforming_strings: only quotes are doubled).
func pgString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// newPassword returns a random password for the sluice user.
func newPassword() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// expect names one record a change must produce: its table, the "id" of its
// key and its op, or "tombstone". prefix, the topic prefix of the source,
// is set when the change is made.
type expect struct {
	table  string
	id     string
	op     string
	prefix string
}

func (e expect) String() string {
	if e.op == "tombstone" {
		return fmt.Sprintf("the tombstone of %s.shop.%s id %s", e.prefix, e.table, e.id)
	}
	return fmt.Sprintf("op %s of %s.shop.%s id %s", e.op, e.prefix, e.table, e.id)
}

// matches reports whether r is the record e names.
func (e expect) matches(r record) bool {
	if r.Topic != e.prefix+".shop."+e.table || keyID(r.Key) != e.id {
		return false
	}
	if e.op == "tombstone" {
		return r.Tombstone
	}
	return r.Op == e.op
}

// change is one live change the demo makes on each source and the records
// it must produce there.
type change struct {
	what     string // in words
	mysql    string // the statement for MariaDB
	postgres string // the same for PostgreSQL
	want     []expect
}

// demoChanges are made once the snapshot is in Kafka: an insert, an update,
// a delete and a primary-key update.
var demoChanges = []change{
	{
		what:     "an insert",
		mysql:    "INSERT INTO `shop`.`customers` VALUES (4, 'Edsger Dijkstra', 'edsger@example.com', NOW(6))",
		postgres: `INSERT INTO "shop"."customers" VALUES (4, 'Edsger Dijkstra', 'edsger@example.com', localtimestamp)`,
		want:     []expect{{table: "customers", id: "4", op: "c"}},
	},
	{
		what:     "an update",
		mysql:    "UPDATE `shop`.`orders` SET `status` = 'shipped', `total` = `total` + 2.50 WHERE `id` = 1002",
		postgres: `UPDATE "shop"."orders" SET "status" = 'shipped', "total" = "total" + 2.50 WHERE "id" = 1002`,
		want:     []expect{{table: "orders", id: "1002", op: "u"}},
	},
	{
		what:     "a delete: the before-image, then a tombstone",
		mysql:    "DELETE FROM `shop`.`orders` WHERE `id` = 1001",
		postgres: `DELETE FROM "shop"."orders" WHERE "id" = 1001`,
		want:     []expect{{table: "orders", id: "1001", op: "d"}, {table: "orders", id: "1001", op: "tombstone"}},
	},
	{
		what:     "a primary-key update: a delete and tombstone of the old key, then an insert under the new one",
		mysql:    "UPDATE `shop`.`customers` SET `id` = 20 WHERE `id` = 2",
		postgres: `UPDATE "shop"."customers" SET "id" = 20 WHERE "id" = 2`,
		want: []expect{{table: "customers", id: "2", op: "d"}, {table: "customers", id: "2", op: "tombstone"},
			{table: "customers", id: "20", op: "c"}},
	},
}

// pending tracks which of a change's records have not arrived yet.
type pending []expect

// expectAt returns c's expectations on the source with topic prefix prefix.
func (c change) expectAt(prefix string) []expect {
	out := make([]expect, len(c.want))
	for i, e := range c.want {
		e.prefix = prefix
		out[i] = e
	}
	return out
}

// see strikes off the first expectation r matches and reports whether it
// matched one.
func (p *pending) see(r record) bool {
	for i, e := range *p {
		if e.matches(r) {
			*p = append((*p)[:i], (*p)[i+1:]...)
			return true
		}
	}
	return false
}
