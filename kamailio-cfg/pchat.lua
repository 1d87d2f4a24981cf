-- kamailio-pchat: the chat node's routing in Lua (KEMI), for operators who write their routing
-- in a scripting language. It does what kamailio.cfg's request_route, pchat.cfg's route(PCHAT)
-- and pchat-auth.cfg's authentication do, and answers JSON-RPC over HTTP as kamailio.cfg does.
--
-- kamailio.cfg runs it when PCHAT_KEMI names this file (kamailio -A 'PCHAT_KEMI="/path/pchat.lua"',
-- scripts/lab up --routing lua): it loads app_lua (Debian: kamailio-lua-modules) with this script
-- and sets cfgengine "lua"; the global settings, modules and modparams stay in kamailio.cfg, and
-- its route blocks are not used. The same cfg defines choose the authentication modes (read here
-- with $def): PCHAT_AUTH_TRUSTED, PCHAT_AUTH_DIGEST, PCHAT_AUTH_LOOPBACK (LAB ONLY), with
-- PCHAT_DOMAIN, PCHAT_TRUSTED_GROUP, PCHAT_FLAG_TRUSTED and PCHAT_RPC_TOKEN as described in the
-- headers of kamailio.cfg and pchat-auth.cfg. It fails closed like them: a request no enabled mode
-- accepts gets 403.
--
-- To use it in a routing of your own: call pchat_route() near the top of ksr_request_route()
-- after your sanity checks; it returns only for requests that are not for the chat service.

-- The value of a cfg define (without its quotes), nil when it is not defined.
local function def(name)
	local v = KSR.pv.get("$def(" .. name .. ")")
	if v == nil then return nil end
	return (string.gsub(v, '^"(.*)"$', "%1"))
end

-- The settings, read once per process from the defines (they do not change while it runs).
local conf
local function settings()
	if conf == nil then
		conf = {
			trusted = def("PCHAT_AUTH_TRUSTED") ~= nil,
			digest = def("PCHAT_AUTH_DIGEST") ~= nil,
			loopback = def("PCHAT_AUTH_LOOPBACK") ~= nil,
			domain = def("PCHAT_DOMAIN"),
			group = tonumber(def("PCHAT_TRUSTED_GROUP") or "1"),
			flag = tonumber(def("PCHAT_FLAG_TRUSTED") or "24"),
			rpc_token = def("PCHAT_RPC_TOKEN"),
		}
	end
	return conf
end

-- 403, a log line saying why, and the end of the script (an ACK is dropped).
local function refuse(why)
	if KSR.is_ACK() then KSR.x.exit() end
	KSR.notice("pchat: " .. KSR.pv.getw("$rm") .. " from " .. KSR.pv.getw("$si") .. ":"
		.. KSR.pv.getw("$sp") .. " (" .. KSR.pv.getw("$pr") .. ") refused with 403: " .. why
		.. " (From " .. KSR.pv.getw("$fu") .. ")\n")
	KSR.sl.sl_send_reply(403, "Forbidden")
	KSR.x.exit()
end

-- Digest authentication of requests outside a dialog (pchat-auth.cfg's route PCHAT_DIGEST):
-- returns when accepted, else answers (401/407, 403) and ends the script. KEMI has auth_db's
-- auth_check(), which asks a REGISTER for Authorization (401) and other requests for
-- Proxy-Authorization (407), where the native routing challenges every request with 401.
local function auth_digest(c)
	if KSR.siputils.has_totag() > 0 or KSR.is_method_in("AC") then return end
	local rc = KSR.auth_db.auth_check(c.domain, "subscriber", 0)
	if rc == 1 then
		local au = KSR.pv.get("$au")
		local dom = string.lower(c.domain)
		if KSR.pv.get("$fU") ~= au or string.lower(KSR.pv.get("$fd")) ~= dom
				or (KSR.is_REGISTER() and (KSR.pv.get("$tU") ~= au
					or string.lower(KSR.pv.get("$td")) ~= dom)) then
			refuse("authenticated as " .. au .. ", which is not the From (or To) user")
		end
		KSR.auth.consume_credentials()
		KSR.pv.sets("$avp(pchat_identity)", "sip:" .. au .. "@" .. c.domain)
		return
	end
	if rc == -4 then
		-- stale nonce: the same credentials with a fresh nonce
		KSR.auth.auth_challenge(c.domain, 17)
		KSR.x.exit()
	end
	if rc ~= -5 then
		KSR.notice("pchat: " .. KSR.pv.getw("$rm") .. " from " .. KSR.pv.getw("$si") .. ":"
			.. KSR.pv.getw("$sp") .. ": digest authentication of '" .. (KSR.pv.get("$au") or "")
			.. "' failed (auth_db code " .. rc .. "); challenged again\n")
	end
	KSR.auth.auth_challenge(c.domain, 1)
	KSR.x.exit()
end

-- Accepts the request under an enabled mode (pchat-auth.cfg's route PCHAT_AUTH), or answers it
-- and ends the script. Sets $avp(pchat_identity), $avp(pchat_flow) and the trusted flag, which
-- the pchat module reads.
local function pchat_auth()
	local c = settings()
	KSR.pv.unset("$avp(pchat_identity)")
	KSR.pv.unset("$avp(pchat_flow)")
	KSR.resetflag(c.flag)
	if c.trusted and KSR.permissions.allow_source_address(c.group) > 0 then
		-- a trusted peer authenticated the user and says who it is and where it is connected
		KSR.setflag(c.flag)
		if KSR.hdr.is_present("P-Asserted-Identity") > 0 then
			KSR.pv.sets("$avp(pchat_identity)", KSR.pv.get("$ai"))
		end
		if KSR.hdr.is_present("P-Pchat-Flow") > 0 then
			KSR.pv.sets("$avp(pchat_flow)", KSR.pv.get("$hdr(P-Pchat-Flow)"))
		end
		return
	end
	-- only trusted peers may assert who the user is and where the client is connected
	KSR.hdr.remove("P-Asserted-Identity")
	KSR.hdr.remove("P-Pchat-Flow")
	-- LAB ONLY (PCHAT_AUTH_LOOPBACK): a loopback client is whoever its From URI says
	if c.loopback and string.match(KSR.pv.get("$si"), "^127%.") then
		KSR.pv.sets("$avp(pchat_identity)", KSR.pv.get("$fu"))
		return
	end
	if c.digest then return auth_digest(c) end
	local why = {}
	if c.trusted then why[#why + 1] = "not from a trusted peer; " end
	if c.loopback then why[#why + 1] = "not from loopback; " end
	if #why == 0 then refuse("no authentication mode is enabled") end
	refuse(table.concat(why) .. "digest is not enabled")
end

-- The chat service (pchat.cfg's route PCHAT): returns only for requests that are not for it.
function pchat_route()
	pchat_auth()
	if KSR.is_SUBSCRIBE() then
		-- in-band provisioning: the chat service's URI and whether the policy enables the user
		if KSR.pchat.pchat_provision() == -1 then return end
		KSR.x.exit()
	end
	if KSR.is_ACK() then
		-- pchat must see the ACK before t_check_trans() matches it to the 200 OK that tm
		-- retransmits (which stops the retransmissions and ends the script for such an ACK)
		if KSR.pchat.pchat_handle() == -1 then return end
		KSR.tm.t_check_trans()
		KSR.x.exit()
	end
	-- 1: consumed (answered now or soon); -2: an error pchat already answered
	if KSR.pchat.pchat_handle() == -1 then return end
	KSR.x.exit()
end

-- REGISTER answered the way Lync-family clients need (kamailio.cfg's route LAB_REGISTER).
local function lab_register()
	local contact = KSR.pv.get("$ct")
	if contact ~= nil then KSR.hdr.append_to_reply("Contact: " .. contact .. ";expires=3600\r\n") end
	KSR.hdr.append_to_reply("Expires: 3600\r\n")
	KSR.hdr.append_to_reply("Supported: msrtc-event-categories\r\n")
	KSR.hdr.append_to_reply("Allow-Events: vnd-microsoft-provisioning-v2\r\n")
	KSR.hdr.append_to_reply("ms-keep-alive: UAS; tcp=no; hop-hop=yes; end-pt=no; timeout=300\r\n")
	KSR.sl.sl_send_reply(200, "OK")
	KSR.x.exit()
end

-- SIP requests (kamailio.cfg's request_route).
function ksr_request_route()
	if KSR.maxfwd.process_maxfwd(10) < 0 then
		KSR.sl.sl_send_reply(483, "Too Many Hops")
		KSR.x.exit()
	end
	if KSR.sanity.sanity_check(17895, 7) < 0 then
		KSR.warn("malformed request " .. KSR.pv.getw("$rm") .. " from " .. KSR.pv.getw("$si")
			.. ":" .. KSR.pv.getw("$sp") .. " dropped\n")
		KSR.x.exit()
	end

	pchat_route()

	if KSR.is_REGISTER() then lab_register() end
	if KSR.is_OPTIONS() and KSR.is_myself_ruri() and KSR.pv.get("$rU") == nil then
		KSR.sl.sl_send_reply(200, "OK")
		KSR.x.exit()
	end
	if KSR.is_ACK() then
		KSR.tm.t_check_trans()
		KSR.x.exit()
	end
	-- the lab is a chat server only: nothing else is routed
	KSR.sl.sl_send_reply(404, "Not Here (kamailio-pchat lab serves the chat service only)")
end

-- Core events (kemi.event_route_callback): logs at start how this node routes and authenticates.
function ksr_event_route(evname)
	if evname ~= "core:worker-one-init" then return end
	local c = settings()
	KSR.notice("pchat: routing through Lua (KEMI), script " .. def("PCHAT_KEMI") .. "\n")
	if c.trusted then
		KSR.notice("pchat: authentication: trusted peers of address table group " .. c.group
			.. " (P-Asserted-Identity, P-Pchat-Flow)\n")
	end
	if c.digest then
		KSR.notice("pchat: authentication: digest against table subscriber, realm " .. c.domain .. "\n")
	end
	if c.loopback then
		KSR.warn("pchat lab: PCHAT_AUTH_LOOPBACK IS ON: every loopback client is trusted as the user"
			.. " its From URI names. Lab only: never expose this configuration to a network\n")
	end
	if not (c.trusted or c.digest or c.loopback) then
		KSR.err("pchat: NO AUTHENTICATION MODE IS ENABLED: every request to the chat service is"
			.. " refused with 403. Define PCHAT_AUTH_TRUSTED and/or PCHAT_AUTH_DIGEST\n")
	end
end

-- JSON-RPC over HTTP on the SIP TCP port (xhttp's event_callback; kamailio.cfg's
-- event_route[xhttp:request] says why): POST /RPC from loopback with Content-Type:
-- application/json and Authorization: Bearer <PCHAT_RPC_TOKEN>; anything else gets 403 (415 for
-- another content type) and runs no RPC.
function ksr_xhttp_event(evname)
	local token = settings().rpc_token
	local si = KSR.pv.get("$si") .. ":" .. KSR.pv.get("$sp")
	if token == nil then
		KSR.notice("JSON-RPC from " .. si .. " refused: no PCHAT_RPC_TOKEN is configured\n")
		KSR.xhttp.xhttp_reply(403, "Forbidden", "text/plain",
			"JSON-RPC over HTTP is disabled (no token configured); use kamcmd on the ctl socket\n")
		return
	end
	local method, path = KSR.pv.get("$rm"), KSR.pv.get("$hu")
	if KSR.pv.get("$si") ~= "127.0.0.1" or method ~= "POST" or path ~= "/RPC" then
		KSR.notice("JSON-RPC: " .. tostring(method) .. " " .. tostring(path) .. " from " .. si
			.. " refused: only POST /RPC from loopback\n")
		KSR.xhttp.xhttp_reply(403, "Forbidden", "text/plain", "JSON-RPC only: POST /RPC from loopback\n")
		return
	end
	if KSR.hdr.is_present("Origin") > 0 then
		KSR.notice("JSON-RPC from " .. si .. " refused: sent by a web page\n")
		KSR.xhttp.xhttp_reply(403, "Forbidden", "text/plain", "JSON-RPC is not for web pages\n")
		return
	end
	-- compared as digests, so the time the comparison takes tells nothing about the token
	KSR.pv.sets("$var(pchat_rpc_expected)", "Bearer " .. token)
	if #token < 16 or KSR.hdr.is_present("Authorization") <= 0
			or KSR.pv.get("$(hdr(Authorization){s.sha256})")
				~= KSR.pv.get("$(var(pchat_rpc_expected){s.sha256})") then
		KSR.notice("JSON-RPC from " .. si .. " refused: no valid bearer token\n")
		KSR.xhttp.xhttp_reply(403, "Forbidden", "text/plain", "JSON-RPC needs Authorization: Bearer <token>\n")
		return
	end
	local ctype = KSR.pv.get("$hdr(Content-Type)")
	if ctype == nil or not string.match(string.lower(ctype), "^application/json[ \t]*;")
			and not string.match(string.lower(ctype), "^application/json[ \t]*$") then
		KSR.notice("JSON-RPC from " .. si .. " refused: Content-Type is not application/json\n")
		KSR.xhttp.xhttp_reply(415, "Unsupported Media Type", "text/plain",
			"JSON-RPC needs Content-Type: application/json\n")
		return
	end
	KSR.jsonrpcs.dispatch()
end
