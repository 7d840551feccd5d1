package sluice

import (
	"errors"
	"strings"
)

// Problem is one finding of a prerequisite check: a wrong server setting, a
// missing privilege, a table that does not exist. Message states the cause
// and the fix in one line.
type Problem struct {
	// Warning problems let sluice run (for example a fallback it will
	// take); the others stop it.
	Warning bool
	Message string
}

// Problems is the list a check returns.
type Problems []Problem

// Err joins the problems that are not warnings into one error, or returns
// nil when there are none.
func (ps Problems) Err() error {
	var msgs []string
	for _, p := range ps {
		if !p.Warning {
			msgs = append(msgs, p.Message)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "; "))
}
