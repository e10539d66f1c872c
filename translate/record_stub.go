package translate

// Stubs replaced by record_flexml.go and record_plivo.go.

func parseFlexMLRecord(p *parser, n *node, name string) Verb { return nil }
func parsePlivoRecord(p *parser, n *node, name string) Verb  { return nil }
