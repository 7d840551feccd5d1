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

// newPassword returns a random password for the sluice user.
func newPassword() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// expect names one record a change must produce: its table, the "id" of its
// key and its op, or "tombstone".
type expect struct {
	table string
	id    string
	op    string
}

func (e expect) String() string {
	if e.op == "tombstone" {
		return fmt.Sprintf("the tombstone of shop.%s id %s", e.table, e.id)
	}
	return fmt.Sprintf("op %s of shop.%s id %s", e.op, e.table, e.id)
}

// matches reports whether r is the record e names; prefix is the topic
// prefix.
func (e expect) matches(prefix string, r record) bool {
	if r.Topic != prefix+".shop."+e.table || keyID(r.Key) != e.id {
		return false
	}
	if e.op == "tombstone" {
		return r.Tombstone
	}
	return r.Op == e.op
}

// change is one live change the demo makes and the records it must produce.
type change struct {
	what string // in words
	sql  string
	want []expect
}

// demoChanges are made once the snapshot is in Kafka: an insert, an update,
// a delete and a primary-key update.
var demoChanges = []change{
	{
		what: "an insert",
		sql:  "INSERT INTO `shop`.`customers` VALUES (4, 'Edsger Dijkstra', 'edsger@example.com', NOW(6))",
		want: []expect{{"customers", "4", "c"}},
	},
	{
		what: "an update",
		sql:  "UPDATE `shop`.`orders` SET `status` = 'shipped', `total` = `total` + 2.50 WHERE `id` = 1002",
		want: []expect{{"orders", "1002", "u"}},
	},
	{
		what: "a delete: the before-image, then a tombstone",
		sql:  "DELETE FROM `shop`.`orders` WHERE `id` = 1001",
		want: []expect{{"orders", "1001", "d"}, {"orders", "1001", "tombstone"}},
	},
	{
		what: "a primary-key update: a delete and tombstone of the old key, then an insert under the new one",
		sql:  "UPDATE `shop`.`customers` SET `id` = 20 WHERE `id` = 2",
		want: []expect{{"customers", "2", "d"}, {"customers", "2", "tombstone"}, {"customers", "20", "c"}},
	},
}

// pending tracks which of a change's records have not arrived yet.
type pending []expect

// see strikes off the first expectation r matches and reports whether it
// matched one.
func (p *pending) see(prefix string, r record) bool {
	for i, e := range *p {
		if e.matches(prefix, r) {
			*p = append((*p)[:i], (*p)[i+1:]...)
			return true
		}
	}
	return false
}
