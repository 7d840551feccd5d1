package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrLeaseLost is wrapped by the error a [Lease] ends with when this
// instance no longer holds its name: the group coordinator dropped it, the
// group moved the lease, or the coordinator stopped answering for longer
// than the lease may run unconfirmed.
var ErrLeaseLost = errors.New("the lease on this name was lost")

// LeaseConfig says which group holds a name's lease.
type LeaseConfig struct {
	// Group is the Kafka consumer group whose member assigned partition 0
	// of Topic holds the lease. Required.
	Group string
	// Topic is the topic the group subscribes to; only its partition 0
	// matters. The checkpoint topic: it exists before the lease is asked
	// for, and its records are never read.
	Topic string
	// SessionTimeout is the group session timeout: how long a member that
	// stopped answering (kill -9, host loss) keeps the lease before a
	// standby gets it. Default 10s; Kafka brokers accept 6s to 30min by
	// default (group.min/max.session.timeout.ms).
	SessionTimeout time.Duration
}

// DefaultSessionTimeout is LeaseConfig.SessionTimeout's default.
const DefaultSessionTimeout = 10 * time.Second

// heartbeatShare and marginShare divide the session timeout: a member
// heartbeats every tenth of it, and gives the lease up itself when no
// group request it sent in the last three quarters of it was answered,
// a quarter before the coordinator could hand the lease to another member.
const (
	heartbeatShare = 10
	marginShare    = 4
)

// Lease is one instance's membership in its name's group. The member the
// group assigns partition 0 holds the lease and is the only one that may
// write; the others are standbys. Kafka's group protocol decides, so no
// other coordination service is needed.
//
// What it promises: once [Lease.Held] is closed, [Lease.Lost] closes as
// soon as the lease may have passed to another member: when the group
// revokes partition 0 or reports it lost, and at the latest when no group
// request of this member was answered for three quarters of the session
// timeout. The coordinator gives partition 0 to another member only after
// the full session timeout without an answered request, so the holder
// stops before a successor starts. The balancer is cooperative-sticky: a
// standby joining or leaving never moves the lease.
type Lease struct {
	cfg LeaseConfig
	cl  *kgo.Client
	log *slog.Logger
	// skew moves the clock the lease's watch reads, for tests.
	skew atomic.Int64

	// answered is the UnixNano at which the newest answered group request
	// (join, sync, heartbeat) was sent: the coordinator counts the session
	// from a moment no earlier than that.
	answered atomic.Int64

	mu      sync.Mutex
	held    chan struct{} // closed when partition 0 is assigned
	isHeld  bool
	lost    chan struct{} // closed when the lease may have passed on
	lostErr error

	stop chan struct{}
	done sync.WaitGroup
}

// JoinLease joins the group of cfg as a new member, with a client of its
// own built from kcfg (TLS, SASL, brokers; never transactional), and
// returns at once: [Lease.Held] closes when this member holds the lease.
// The client's group requests are answered only while the brokers are
// reachable; an error here is a bad setting or unreachable brokers.
func JoinLease(ctx context.Context, kcfg Config, cfg LeaseConfig, log *slog.Logger) (*Lease, error) {
	if cfg.Group == "" || cfg.Topic == "" {
		return nil, errors.New("lease: group and topic are required")
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	l := &Lease{cfg: cfg, log: log, held: make(chan struct{}), lost: make(chan struct{}), stop: make(chan struct{})}
	kcfg = kcfg.Plain()
	kcfg.Hooks = []kgo.Hook{leaseHook{l}}
	hb := cfg.SessionTimeout / heartbeatShare
	cl, err := NewClient(ctx, kcfg,
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.SessionTimeout(cfg.SessionTimeout),
		kgo.HeartbeatInterval(hb),
		kgo.RebalanceTimeout(cfg.SessionTimeout),
		kgo.DisableAutoCommit(),
		// A group request is retried until its retry timeout, the
		// session timeout, not a count: a coordinator moving or
		// restarting within the session keeps the lease.
		kgo.RequestRetries(math.MaxInt32),
		kgo.OnPartitionsAssigned(l.assigned),
		kgo.OnPartitionsRevoked(l.revoked),
		kgo.OnPartitionsLost(l.dropped),
	)
	if err != nil {
		return nil, err
	}
	l.cl = cl
	l.done.Add(2)
	go l.poll()
	go l.watch()
	return l, nil
}

// Held is closed once this member holds the lease.
func (l *Lease) Held() <-chan struct{} { return l.held }

// Lost is closed when a held lease may have passed to another member (or
// the group refused this member for good); [Lease.Err] says why.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Err is why the lease was lost, wrapping [ErrLeaseLost]; nil before.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lostErr
}

// Group is the consumer group of the lease.
func (l *Lease) Group() string { return l.cfg.Group }

// Close leaves the group, so a standby takes over at once instead of
// after the session timeout. Call it only after the last write of this
// holder is acknowledged. It is safe to call more than once.
func (l *Lease) Close() {
	l.mu.Lock()
	select {
	case <-l.stop:
		l.mu.Unlock()
		return
	default:
		close(l.stop)
	}
	l.mu.Unlock()
	l.cl.Close()
	l.done.Wait()
}

func (l *Lease) assigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	if !hasPartition0(m, l.cfg.Topic) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isHeld || l.lostErr != nil {
		return
	}
	l.isHeld = true
	close(l.held)
}

func (l *Lease) revoked(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	if hasPartition0(m, l.cfg.Topic) {
		l.lose(fmt.Errorf("%w: group %s moved it to another member", ErrLeaseLost, l.cfg.Group))
	}
}

func (l *Lease) dropped(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	if hasPartition0(m, l.cfg.Topic) {
		l.lose(fmt.Errorf("%w: the coordinator of group %s dropped this member (its session expired, or the group was reset)", ErrLeaseLost, l.cfg.Group))
	}
}

func hasPartition0(m map[string][]int32, topic string) bool {
	for _, p := range m[topic] {
		if p == 0 {
			return true
		}
	}
	return false
}

// lose closes Lost once, keeping the first reason.
func (l *Lease) lose(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lostErr != nil {
		return
	}
	l.lostErr = err
	close(l.lost)
}

// watch gives a held lease up when the coordinator has not answered for
// the share of the session timeout the holder may run unconfirmed.
func (l *Lease) watch() {
	defer l.done.Done()
	limit := l.cfg.SessionTimeout - l.cfg.SessionTimeout/marginShare
	t := time.NewTicker(l.cfg.SessionTimeout / 50)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		l.mu.Lock()
		held := l.isHeld
		l.mu.Unlock()
		if !held {
			continue
		}
		if since := time.Now().Add(time.Duration(l.skew.Load())).Sub(time.Unix(0, l.answered.Load())); since > limit {
			l.lose(fmt.Errorf("%w: the coordinator of group %s answered no request sent in the last %s (session timeout %s), so another member may take over",
				ErrLeaseLost, l.cfg.Group, since.Round(time.Millisecond), l.cfg.SessionTimeout))
		}
	}
}

// poll drains the client: the records (the group starts at the topic's
// end, so there are few) are dropped; an error the group reports for good
// (not authorized, an invalid setting) ends the lease.
func (l *Lease) poll() {
	defer l.done.Done()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-l.stop
		cancel()
	}()
	for ctx.Err() == nil {
		fs := l.cl.PollFetches(ctx)
		if fs.IsClientClosed() {
			return
		}
		fs.EachError(func(topic string, _ int32, err error) {
			if fix := leaseFix(err, l.cfg.Group); fix != "" {
				l.lose(fmt.Errorf("%w: kafka refuses consumer group %s (%v): %s", ErrLeaseLost, l.cfg.Group, err, fix))
			} else if ctx.Err() == nil {
				l.log.Debug("lease: group error", "group", l.cfg.Group, "topic", topic, "error", err)
			}
		})
	}
}

// leaseFix is the fix for a group error that retrying does not cure; ""
// for the others.
func leaseFix(err error, group string) string {
	switch {
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		return fmt.Sprintf("grant the principal READ on group %s (every sluice run joins it to hold its name)", group)
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		return "grant the principal READ and DESCRIBE on the checkpoint topic"
	case errors.Is(err, kerr.InvalidSessionTimeout):
		return "set leadership.session_timeout within the brokers' group.min.session.timeout.ms and group.max.session.timeout.ms"
	}
	return ""
}

// leaseHook records when the newest answered group request was sent.
type leaseHook struct{ l *Lease }

// The group protocol's request keys: JoinGroup, Heartbeat, SyncGroup.
const (
	keyJoinGroup = 11
	keyHeartbeat = 12
	keySyncGroup = 14
)

func (h leaseHook) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if key != keyJoinGroup && key != keyHeartbeat && key != keySyncGroup {
		return
	}
	if e2e.WriteErr != nil || e2e.ReadErr != nil {
		return
	}
	sent := time.Now().Add(-e2e.WriteWait - e2e.DurationE2E()).UnixNano()
	for {
		old := h.l.answered.Load()
		if sent <= old || h.l.answered.CompareAndSwap(old, sent) {
			return
		}
	}
}
