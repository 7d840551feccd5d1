// Package retry is sluice's one retry policy: exponential backoff with
// jitter, and the typed test for a failed network connection that the
// sources' retry decisions share.
//
// # Where it sits
//
// Every reconnect and the schema registry client use it: binlog.Reader.Run
// and pgoutput.Reader.Run wait with it before reconnecting after a lost
// replication connection, and package schema waits with it between
// registration attempts while the registry is unreachable. Each of those
// packages decides in one place whether an error is worth retrying (the
// sources in their errors.go, from driver error types and server error
// codes; the registry client from the HTTP status); this package supplies
// the waits, and [Network], the part of the sources' decision that is the
// same for both: a connection refused, reset, closed or timed out.
//
// # What it promises
//
//   - One policy: each wait is the previous one times [Multiplier], starting
//     at Policy.Initial, with up to [Jitter] of it added or taken away at
//     random so that clients that failed together do not retry together,
//     and never longer than Policy.Max ([MaxReconnectWait] for the
//     replication streams).
//   - Bounded attempts when asked: a Policy with Attempts > 0 stops handing
//     out waits after that many consecutive retries; Reset, called when the
//     work made progress, starts the count and the waits over.
//   - Typed classification only: [Network] looks at error types and values
//     (errors.Is, errors.As), never at error text.
//
// Nothing in this package starts a goroutine. [Wait] blocks the calling
// goroutine until the wait is over or its context is done; a [Backoff] only
// computes waits and is not safe for concurrent use.
//
// The delays come from github.com/cenkalti/backoff/v5's
// ExponentialBackOff; this package fixes its parameters and adds the cap on
// the jittered wait, the attempt count and the context-aware wait.
package retry
