package config

// Dashboard tunes the operator dashboard (/dashboard).
type Dashboard struct {
	// JournalSize is how many HTTP exchanges and engine steps this instance keeps in memory
	// for the dashboard (each recording's callbacks with their answers, a call's trace): the
	// oldest are forgotten first, and a restart forgets them all. About 2 KB each. Default
	// 5000; 100–1000000.
	JournalSize int `yaml:"journal_size"`
}

func (d *Dashboard) applyDefaults() {
	if d.JournalSize == 0 {
		d.JournalSize = 5000
	}
}

func (d *Dashboard) validate(bad func(field, format string, args ...any) error) error {
	if d.JournalSize < 100 || d.JournalSize > 1_000_000 {
		return bad("dashboard.journal_size", "must be between 100 and 1000000, got %d", d.JournalSize)
	}
	return nil
}
