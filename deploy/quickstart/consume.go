package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// deleteTopics deletes every topic whose name starts with prefix+"." (the
// previous run's records and checkpoint) and blocks until the broker no
// longer lists them, at most 30 s. It returns the names it deleted.
func deleteTopics(ctx context.Context, bootstrap, prefix string) ([]string, error) {
	// The client answers metadata requests from a cache younger than the
	// minimum age; a short one sees the deletion soon.
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("delete old topics: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	old, err := topicsWithPrefix(ctx, adm, prefix)
	if err != nil || len(old) == 0 {
		return nil, err
	}
	resp, err := adm.DeleteTopics(ctx, old...)
	if err != nil {
		return nil, fmt.Errorf("delete old topics: %w", err)
	}
	if err := resp.Error(); err != nil {
		return nil, fmt.Errorf("delete old topics: %w", err)
	}
	for {
		left, err := topicsWithPrefix(ctx, adm, prefix)
		if err != nil {
			return nil, err
		}
		if len(left) == 0 {
			return old, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("delete old topics: %s still listed: %w", strings.Join(left, ", "), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func topicsWithPrefix(ctx context.Context, adm *kadm.Client, prefix string) ([]string, error) {
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	var names []string
	for _, name := range topics.Names() {
		if strings.HasPrefix(name, prefix+".") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// tableTopics is the pattern of the sample tables' topics under each of
// prefixes.
func tableTopics(prefixes ...string) string {
	quoted := make([]string, len(prefixes))
	for i, p := range prefixes {
		quoted[i] = regexp.QuoteMeta(p + ".shop.")
	}
	return "^(" + strings.Join(quoted, "|") + ").+"
}

// consume reads every topic of the sample database under each of prefixes
// from its start and sends each record, decoded, on out. Avro keys and
// values are decoded with their writer schema, which dec fetches from the
// registry by id. It finds topics sluice creates later within about a
// second. It blocks until ctx is done and closes out before it returns.
// A record that cannot be decoded is sent too, with the reason in its
// Problem. Fetch errors other than the end of ctx are sent on errs without
// blocking; the client retries them itself.
func consume(ctx context.Context, bootstrap string, prefixes []string, dec *avroDecoder, out chan<- record, errs chan<- error) error {
	defer close(out)
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(bootstrap),
		kgo.ConsumeRegex(),
		kgo.ConsumeTopics(tableTopics(prefixes...)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.MetadataMinAge(100*time.Millisecond),
		kgo.MetadataMaxAge(time.Second),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	defer cl.Close()
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
				return
			}
			select {
			case errs <- fmt.Errorf("consume %s partition %d: %w", topic, partition, err):
			default:
			}
		})
		for _, r := range fetches.Records() {
			select {
			case out <- decodeKafkaRecord(ctx, dec, r):
			case <-ctx.Done():
				return nil
			}
		}
	}
}
