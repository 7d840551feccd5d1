package main

import (
	"strings"
	"testing"
)

func TestRecordFormat(t *testing.T) {
	for _, tc := range []struct {
		name       string
		key, value string
		null       bool
		want       string
	}{
		{
			name:  "snapshot read",
			key:   `{"id":1}`,
			value: `{"before":null,"after":{"id":1,"name":"Ada"},"source":{"snapshot":true},"op":"r","ts_ms":1}`,
			want: `quickstart.shop.customers [partition 0, offset 7] key {"id":1}  op r (read by the snapshot)
    after  {"id":1,"name":"Ada"}`,
		},
		{
			name:  "update keeps exact numbers",
			key:   `{"id":18446744073709551615}`,
			value: `{"before": {"id": 18446744073709551615, "total": "5.00"}, "after": {"id": 18446744073709551615, "total": "7.50"}, "op": "u"}`,
			want: `quickstart.shop.customers [partition 0, offset 7] key {"id":18446744073709551615}  op u (update)
    before {"id":18446744073709551615,"total":"5.00"}
    after  {"id":18446744073709551615,"total":"7.50"}`,
		},
		{
			name:  "delete",
			key:   `{"id":3}`,
			value: `{"before":{"id":3},"after":null,"op":"d"}`,
			want: `quickstart.shop.customers [partition 0, offset 7] key {"id":3}  op d (delete)
    before {"id":3}`,
		},
		{
			name: "tombstone",
			key:  `{"id":3}`,
			null: true,
			want: `quickstart.shop.customers [partition 0, offset 7] key {"id":3}  TOMBSTONE (null value)`,
		},
		{
			name:  "not an envelope",
			key:   `{"id":3}`,
			value: `hello`,
			want:  `quickstart.shop.customers [partition 0, offset 7] key {"id":3}  value "hello"`,
		},
		{
			name:  "empty value is not a tombstone",
			key:   `{"id":3}`,
			value: ``,
			want:  `quickstart.shop.customers [partition 0, offset 7] key {"id":3}  value ""`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			value := []byte(tc.value)
			if tc.null {
				value = nil
			}
			got := decodeRecord("quickstart.shop.customers", 0, 7, []byte(tc.key), value).format()
			if got != tc.want {
				t.Errorf("format:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestRecordFormatNullKey(t *testing.T) {
	got := decodeRecord("t", 1, 2, nil, []byte(`{"op":"c","after":{"a":1}}`)).format()
	if !strings.HasPrefix(got, "t [partition 1, offset 2] key null  op c (insert)") {
		t.Errorf("format = %q", got)
	}
}

func TestKeyID(t *testing.T) {
	for key, want := range map[string]string{
		`{"id":4}`:                    "4",
		`{"id":18446744073709551615}`: "18446744073709551615",
		`{"id":"a-1"}`:                "a-1",
		`{"sku":"x"}`:                 "",
		`not json`:                    "",
	} {
		if got := keyID([]byte(key)); got != want {
			t.Errorf("keyID(%s) = %q, want %q", key, got, want)
		}
	}
}
