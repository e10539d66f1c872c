// Package esl implements adapter.PBX and adapter.Call on FreeSWITCH through the event socket
// (github.com/percipia/eslgo v1.5.0). No eslgo type crosses this package's edge.
//
// # Modes
//
// Calls arrive in outbound mode: FreeSWITCH's dialplan hands each call to pbxbridge, which
// sends linger, myevents plain, event plain RECORD_START RECORD_STOP PLAYBACK_START
// PLAYBACK_STOP (myevents does not carry them) and divert_events on, then runs the engine's
// handler on that socket until hangup. One inbound connection (mod_event_socket) is kept up
// by a health check (api status every 5 s, redial on failure) when configured.
//
// # What the operator adds to FreeSWITCH
//
// Dialplan (the variable pbxbridge_app names the application; without it the dialled number
// chooses):
//
//	<extension name="pbxbridge">
//	  <condition field="destination_number" expression="^(\d+)$">
//	    <action application="set" data="pbxbridge_app=voicemail"/>
//	    <action application="socket" data="127.0.0.1:8084 async full"/>
//	  </condition>
//	</extension>
//
// event_socket.conf.xml, for the inbound connection: listen-ip 127.0.0.1, listen-port 8021,
// a password other than ClueCon (config freeswitch[].password), and an apply-inbound-acl that
// admits pbxbridge's host.
//
// # Dial
//
// Dial runs mod_dptools' bridge application on the caller's channel (dial.go explains why
// bridge and not originate + uuid_bridge); freeswitch[].dial templates turn targets into dial
// strings (docs/freeswitch.md, section 4).
//
// # Recording files
//
// FreeSWITCH writes each recording itself; freeswitch[].record_transfer chooses how the file
// reaches pbxbridge (docs/freeswitch.md). pbxbridge names every file itself (<recording
// name>.wav, from ids it generated) and records .wav only (mp3 and µ-law are transcoded by
// the bridge, so mod_shout is never needed).
//
//   - shared (the default): freeswitch[].record_dir is the same path on both sides (same
//     host, or one volume mounted at the same path); pbxbridge reads the file after the
//     recording ends and deletes it. Serve creates the directory and fails if it cannot.
//   - http: FreeSWITCH records to http_cache://<upload_url>/v1/freeswitch/<pbx>/recordings/
//     <signature>/<file> and mod_http_cache PUTs the file when it is closed; httpapi stores
//     it in record_dir, where the recording waits for it up to upload_timeout (a missing
//     upload fails the recording with ErrUploadMissing and adapter.ErrRecordingFailed).
//
// # Library traps handled here
//
//   - eslgo runs each listener call in its own goroutine: events are put back in
//     Event-Sequence order (reorder, order.go) before the call sees them.
//   - replies are matched to commands by arrival order: commands on one socket are
//     serialised (Call.cmdMu, PBX.inMu), each with a deadline (command_timeout).
//   - only plain events are parsed: every subscription says plain.
//   - command.Linger formats its Duration with %d: we send a bare "linger".
//   - the receive loop exits silently on a read error: a call waiting for an application's
//     completion probes its socket (api uuid_exists) after 2 s without events, and treats a
//     failed probe as a hangup; the recording file is still read.
//   - the outbound handler must not return before the call ends (the socket is closed
//     after it): handle waits for CHANNEL_HANGUP_COMPLETE after the engine's handler.
//   - eslgo's ListenAndServe cannot be stopped, and its Conn.Close deletes from a map that
//     dummyLoop, receiveLoop and the inbound disconnectLoop read without a lock (a data race
//     that -race reports, and a possible crash): the listener is ours, each socket is handed
//     to eslgo's unexported newConnection (go:linkname, socket.go), and sockets are closed
//     by closing the net.Conn, never by Conn.Close. Serve returns when its context ends.
package esl
