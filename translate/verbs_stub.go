package translate

// Stubs replaced by verbs_flexml.go and verbs_plivo.go.

func parseFlexMLDial(p *parser, n *node, name string) Verb      { return nil }
func parseFlexMLGather(p *parser, n *node, name string) Verb    { return nil }
func parseFlexMLHangup(p *parser, n *node, name string) Verb    { return nil }
func parseFlexMLPause(p *parser, n *node, name string) Verb     { return nil }
func parseFlexMLPlay(p *parser, n *node, name string) Verb      { return nil }
func parseFlexMLPreAnswer(p *parser, n *node, name string) Verb { return nil }
func parseFlexMLRedirect(p *parser, n *node, name string) Verb  { return nil }
func parseFlexMLReject(p *parser, n *node, name string) Verb    { return nil }
func parseFlexMLSay(p *parser, n *node, name string) Verb       { return nil }

func parsePlivoDial(p *parser, n *node, name string) Verb      { return nil }
func parsePlivoDTMF(p *parser, n *node, name string) Verb      { return nil }
func parsePlivoGetDigits(p *parser, n *node, name string) Verb { return nil }
func parsePlivoGetInput(p *parser, n *node, name string) Verb  { return nil }
func parsePlivoHangup(p *parser, n *node, name string) Verb    { return nil }
func parsePlivoPlay(p *parser, n *node, name string) Verb      { return nil }
func parsePlivoPreAnswer(p *parser, n *node, name string) Verb { return nil }
func parsePlivoRedirect(p *parser, n *node, name string) Verb  { return nil }
func parsePlivoSpeak(p *parser, n *node, name string) Verb     { return nil }
func parsePlivoWait(p *parser, n *node, name string) Verb      { return nil }
