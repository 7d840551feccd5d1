package pgoutput

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-cdc/sluice/internal/retry"
	"github.com/sluice-cdc/sluice/internal/tlserr"
)

// Errors that Run, CreateSlot and the publication and slot functions wrap,
// for callers that want to tell them apart with errors.Is. None of them is
// retried: each needs a person to act.
var (
	// ErrSlotMissing: the replication slot does not exist.
	ErrSlotMissing = errors.New("replication slot missing")
	// ErrSlotInvalidated: the server invalidated the slot (it removed WAL
	// the slot still needed, max_slot_wal_keep_size, or a recovery
	// conflict on a standby): changes since the slot's position are gone.
	ErrSlotInvalidated = errors.New("replication slot invalidated")
	// ErrSlotActive: another connection is streaming from the slot.
	ErrSlotActive = errors.New("replication slot active in another connection")
	// ErrPublicationMissing: the publication does not exist or does not
	// cover a selected table.
	ErrPublicationMissing = errors.New("publication missing")
	// ErrPermission: the user lacks a privilege or the REPLICATION
	// attribute, or cannot log in.
	ErrPermission = errors.New("permission denied")
)

// SQLSTATE codes sluice reacts to.
const (
	codeUndefinedObject       = "42704"
	codeObjectInUse           = "55006"
	codeNotInPrerequisite     = "55000"
	codeInsufficientPrivilege = "42501"
	codeInvalidAuthorization  = "28000"
	codeInvalidPassword       = "28P01"
	codeTooManyConnections    = "53300"
	codeConfigurationLimit    = "53400"
	codeAdminShutdown         = "57P01"
	codeCrashShutdown         = "57P02"
	codeCannotConnectNow      = "57P03"
	codeDatabaseDropped       = "57P04"
	codeIdleSessionTimeout    = "57P05"

	// classConnectionException is SQLSTATE class 08.
	classConnectionException = "08"
)

// SlotMissingError is the error for a slot that is gone after sluice
// delivered a snapshot through it: the changes since the checkpoint cannot
// be read any more, and sluice does not re-create the slot on its own
// (that would skip them silently). The caller decides when that rule
// applies; at first start a missing slot is simply created.
func SlotMissingError(slot string) error {
	return fmt.Errorf("%w: slot %q does not exist on the server, but this source's checkpoint says sluice streamed from it: "+
		"the changes since the checkpoint are lost to sluice and it will not skip them; "+
		"to start over with a new snapshot, delete this source's checkpoint (and re-create the slot by starting sluice again), or set snapshot.mode: when_needed to do so by itself",
		ErrSlotMissing, slot)
}

// SlotInvalidatedError is the error for a slot the server invalidated.
// reason is the server's wal_status or invalidation reason.
func SlotInvalidatedError(slot, reason string) error {
	return fmt.Errorf("%w: the server invalidated slot %q (%s): WAL it still needed was removed, so changes since the checkpoint are gone; "+
		"raise max_slot_wal_keep_size (or keep sluice running), then drop the slot (sluice --drop-slot), delete this source's checkpoint and start again for a new snapshot, or set snapshot.mode: when_needed to do so by itself",
		ErrSlotInvalidated, slot, reason)
}

// slotActiveError names the process holding the slot when it is known.
func slotActiveError(slot string, pid int, cause error) error {
	who := "another connection"
	if pid > 0 {
		who = fmt.Sprintf("server process %d", pid)
	}
	err := fmt.Errorf("%w: slot %q is in use by %s: stop the other sluice (or client) streaming from it, or give this source its own slot name; "+
		"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '%s' ends a stale one",
		ErrSlotActive, slot, who, strings.ReplaceAll(slot, "'", "''"))
	if cause != nil {
		return fmt.Errorf("%w (%w)", err, cause)
	}
	return err
}

// classify turns an error of the replication connection into one that
// names the cause and the fix; op names what failed.
func classify(err error, op, slot, publication string) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// PostgreSQL puts the reason for an invalidated slot in the detail.
		msg := strings.ToLower(pe.Message + " " + pe.Detail)
		switch {
		case pe.Code == codeObjectInUse:
			return slotActiveError(slot, 0, err)
		case pe.Code == codeConfigurationLimit && strings.Contains(msg, "replication slots"):
			return fmt.Errorf("%s: %w: raise max_replication_slots on the server (a restart applies it): each source keeps one slot, and retaking an unfinished snapshot holds one more for its duration",
				op, err)
		case pe.Code == codeUndefinedObject && strings.Contains(msg, "replication slot"):
			return fmt.Errorf("%w: %s: slot %q does not exist: %w; if sluice already streamed from it the changes since are lost: delete this source's checkpoint and start again for a new snapshot, or set snapshot.mode: when_needed to do so by itself",
				ErrSlotMissing, op, slot, err)
		case pe.Code == codeUndefinedObject && strings.Contains(msg, "publication"):
			return fmt.Errorf("%w: %s: publication %q does not exist: %w; start sluice once with rights to create it (it creates it when absent) or CREATE PUBLICATION it",
				ErrPublicationMissing, op, publication, err)
		case pe.Code == codeNotInPrerequisite && (strings.Contains(msg, "invalidated") || strings.Contains(msg, "wal_level")):
			if strings.Contains(msg, "wal_level") {
				return fmt.Errorf("%s: %w: set wal_level = logical in postgresql.conf and restart the server", op, err)
			}
			return SlotInvalidatedError(slot, strings.TrimSuffix(pe.Message+": "+pe.Detail, ": "))
		case pe.Code == codeInvalidAuthorization && connectedWithout(err, tlsOn):
			// Without TLS the server found no pg_hba.conf line for the
			// connection: the lines that would match are hostssl.
			return fmt.Errorf("%w: %s: %w: the server accepts only TLS connections from this host: set source.sslmode to require, verify-ca or verify-full",
				ErrPermission, op, err)
		case pe.Code == codeInvalidAuthorization && connectedWithout(err, clientCert):
			return fmt.Errorf("%w: %s: %w: if pg_hba.conf authenticates the user by client certificate (cert), set source.tls.cert_file and source.tls.key_file; "+
				"otherwise the user needs a pg_hba.conf entry for replication=database and the REPLICATION attribute (ALTER ROLE … WITH REPLICATION)",
				ErrPermission, op, err)
		case pe.Code == codeInsufficientPrivilege || pe.Code == codeInvalidAuthorization || pe.Code == codeInvalidPassword:
			return fmt.Errorf("%w: %s: %w: the user needs to log in with replication=database (a pg_hba.conf entry for it) and the REPLICATION attribute (ALTER ROLE … WITH REPLICATION; rds_replication on RDS)",
				ErrPermission, op, err)
		}
	}
	if cerr := tlserr.Error(op, "server", err, map[tlserr.Kind]string{
		tlserr.UnknownCA: "set source.sslrootcert (or source.tls.ca_file) to the CA certificate that signed it",
		tlserr.WrongName: "connect by a name the certificate carries (source.host), or use source.sslmode verify-ca",
	}); cerr != nil {
		return cerr
	}
	return fmt.Errorf("%s: %w", op, err)
}

// tlsOn and clientCert are what connectedWithout asks of the TLS settings.
func tlsOn(c *tls.Config) bool { return c != nil }
func clientCert(c *tls.Config) bool {
	return c != nil && (len(c.Certificates) > 0 || c.GetClientCertificate != nil)
}

// connectedWithout reports whether err is a failed connection attempt
// whose settings (the first try and every fallback, as sslmode made them)
// never have has.
func connectedWithout(err error, has func(*tls.Config) bool) bool {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) || ce.Config == nil {
		return false
	}
	if has(ce.Config.TLSConfig) {
		return false
	}
	for _, f := range ce.Config.Fallbacks {
		if has(f.TLSConfig) {
			return false
		}
	}
	return true
}

// Retryable reports whether err may go away by reconnecting: lost
// connections, server restarts and shutdowns, connection limits. A missing
// or invalidated slot, a slot in use elsewhere, a missing publication,
// privileges and decoding failures are not retryable. It decides from error
// types, values and SQLSTATE codes only, never from error text:
//
//   - a server error (*pgconn.PgError) is retryable when its SQLSTATE is of
//     class 08 (connection exception) or one of admin_shutdown,
//     crash_shutdown, cannot_connect_now, too_many_connections,
//     configuration_limit_exceeded and idle_session_timeout, and not
//     otherwise;
//   - a server certificate sluice does not accept (x509.UnknownAuthorityError,
//     x509.HostnameError, x509.CertificateInvalidError) is not retryable;
//   - a failed connection attempt without such an answer
//     (*pgconn.ConnectError: refused, reset, timed out) is retryable;
//   - so is what pgconn marks safe to retry (pgconn.SafeToRetry: among
//     others every failed read of the stream, and a connection pgconn had
//     already closed, pgconn.ErrConnClosed), a pgconn timeout
//     (pgconn.Timeout), and a failed network connection (retry.Network:
//     refused, reset, broken pipe, EOF, timeouts).
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	for _, fatal := range []error{ErrSlotMissing, ErrSlotInvalidated, ErrSlotActive, ErrPublicationMissing, ErrPermission, errMalformed, errSpool} {
		if errors.Is(err, fatal) {
			return false
		}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeAdminShutdown, codeCrashShutdown, codeCannotConnectNow, codeTooManyConnections,
			codeConfigurationLimit, codeIdleSessionTimeout:
			return true
		}
		return strings.HasPrefix(pe.Code, classConnectionException)
	}
	// The server's certificate stays what it is until someone acts.
	if tlserr.Permanent(err) {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	return pgconn.SafeToRetry(err) || pgconn.Timeout(err) || errors.Is(err, pgconn.ErrConnClosed) || retry.Network(err)
}

// reconnectable reports whether Run reconnects after err: when Retryable
// says so, and also for a slot found busy once this reader has streamed
// from it, since right after a lost connection the server may still count
// the old session as the slot's holder for a moment.
func reconnectable(err error, streamed bool) bool {
	return Retryable(err) || streamed && errors.Is(err, ErrSlotActive)
}

// codeOf returns the SQLSTATE of a server error, or "".
func codeOf(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
