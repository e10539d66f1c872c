package config

import (
	"errors"
	"strings"
	"testing"
)

func TestDashboardJournalSize(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Dashboard.JournalSize != 5000 || Default().Dashboard.JournalSize != 5000 {
		t.Errorf("journal_size default %d, want 5000", c.Dashboard.JournalSize)
	}
	if c, err = Parse([]byte(minimal + "dashboard: {journal_size: 20000}\n")); err != nil || c.Dashboard.JournalSize != 20000 {
		t.Errorf("journal_size 20000: %v %v", c, err)
	}
	for _, v := range []string{"99", "1000001", "-1"} {
		_, err := Parse([]byte(minimal + "dashboard: {journal_size: " + v + "}\n"))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "dashboard.journal_size" || !strings.Contains(fe.Rule, v) {
			t.Errorf("journal_size %s: %v, want a FieldError naming the field and the value", v, err)
		}
	}
}
