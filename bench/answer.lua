-- wrk script for the Rathaus load benchmark (bench/answer-load.sh).
--
--   BENCH_MODE=answer (default): POST /api/v1/answer, rotating through the citizen questions
--                                below ({"q": ..., "lang": ...}); every thread starts at a
--                                different question.
--   BENCH_MODE=get:              plain GET of the URL given to wrk (used for /healthz), so both
--                                runs print the same summary line.
--   BENCH_LABEL:                 the name printed in the summary line (default: the mode).
--
-- done() prints one line that the shell script parses:
--   RESULT label=answer requests=… duration_s=… rps=… mean_ms=… p50_ms=… p90_ms=… p99_ms=…
--          p999_ms=… max_ms=… errors_socket=… errors_timeout=… errors_status=…
-- (errors_status counts HTTP status >= 400.)
--
-- The questions are written for this benchmark: everyday requests to a German city's citizen
-- service in citizens' own words (colloquial terms, missing umlauts, typos), some English, a few
-- greetings and some out-of-scope messages. No request for a human: that would open a handoff
-- per request and fill the staff queue.

local mode = os.getenv("BENCH_MODE") or "answer"
local label = os.getenv("BENCH_LABEL") or mode

local questions = {
  -- Personalausweis
  { "de", "Wie beantrage ich einen neuen Personalausweis?" },
  { "de", "Was kostet ein Personalausweis?" },
  { "de", "Mein Perso läuft nächsten Monat ab, was muss ich tun?" },
  { "de", "Personalausweisverlaengerung fuer meine Tochter, sie ist 16" },
  { "de", "Ich habe meinen Ausweis verloren. Wo melde ich das?" },
  -- Reisepass
  { "de", "Welche Unterlagen brauche ich für einen Reisepass?" },
  { "de", "Wie lange dauert es, bis mein Reisepass fertig ist?" },
  { "de", "Gibt es einen Express-Reisepass und was kostet der?" },
  { "de", "Kinderreisepass beantragen, was muss ich mitbringen" },
  { "de", "reisepas beantragn termin" },
  -- Wohnsitz
  { "de", "Ich bin umgezogen, wie melde ich meinen neuen Wohnsitz an?" },
  { "de", "Was muss ich zur Ummeldung mitbringen?" },
  { "de", "Wo bekomme ich eine Wohnungsgeberbestätigung?" },
  { "de", "Wie melde ich mich ab, wenn ich ins Ausland ziehe?" },
  { "de", "Ich brauche eine Meldebescheinigung für meinen Arbeitgeber" },
  -- Fahrzeug und Führerschein
  { "de", "Welche Papiere brauche ich, um mein Auto zuzulassen?" },
  { "de", "Was kostet die Kfz-Zulassung?" },
  { "de", "Wie kann ich mein Auto abmelden?" },
  { "de", "Kann ich ein Wunschkennzeichen reservieren?" },
  { "de", "Ich habe meinen Führerschein verloren, was nun?" },
  { "de", "Muss ich meinen alten grauen Führerschein umtauschen?" },
  { "de", "Internationalen Führerschein beantragen Kosten" },
  -- Gewerbe
  { "de", "Wie melde ich ein Gewerbe an?" },
  { "de", "Was kostet eine Gewerbeanmeldung?" },
  { "de", "Kann ich mein Gewerbe online abmelden?" },
  -- Aufenthalt
  { "de", "Meine Aufenthaltserlaubnis läuft ab, wie kann ich sie verlängern?" },
  { "de", "Welche Dokumente brauche ich für die Niederlassungserlaubnis?" },
  -- Parken
  { "de", "Wie bekomme ich einen Bewohnerparkausweis?" },
  { "de", "Was kostet ein Anwohnerparkausweis im Jahr?" },
  { "de", "Ich habe ein Knöllchen bekommen, wo kann ich Einspruch einlegen?" },
  -- Ämter, Urkunden, Sonstiges
  { "de", "Wo ist das nächste Bürgerbüro und wann hat es geöffnet?" },
  { "de", "Telefonnummer der Kfz-Zulassungsstelle" },
  { "de", "Führungszeugnis beantragen, was kostet das?" },
  { "de", "Ich möchte meinen Hund anmelden. Wie hoch ist die Hundesteuer?" },
  { "de", "Wie bekomme ich eine Geburtsurkunde für mein Kind?" },
  { "de", "Wir wollen heiraten. Welche Unterlagen braucht das Standesamt?" },
  { "de", "Wie kann ich Sperrmüll abholen lassen?" },
  -- English
  { "en", "How do I register my address after moving to Munich?" },
  { "en", "How much does a passport cost?" },
  { "en", "I lost my ID card, what should I do?" },
  { "en", "Where can I extend my residence permit?" },
  { "en", "What documents do I need to register a car?" },
  { "en", "Can I exchange my foreign driving licence for a German one?" },
  { "en", "How do I register a business?" },
  { "en", "What are the opening hours of the citizens office?" },
  { "en", "resident parking permit price" },
  -- Greetings and small talk
  { "de", "Hallo!" },
  { "de", "Guten Morgen, können Sie mir helfen?" },
  { "en", "Hi there" },
  { "de", "Danke, tschüss" },
  -- Out of scope
  { "de", "Wie wird das Wetter morgen?" },
  { "de", "Wer hat gestern das Fußballspiel gewonnen?" },
  { "en", "Can you recommend a good restaurant nearby?" },
  { "de", "Erzähl mir einen Witz" },
}

-- Minimal JSON string encoding (quotes, backslashes, control characters; UTF-8 passes through).
local function json_string(s)
  s = s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    if c == "\n" then return "\\n" end
    if c == "\r" then return "\\r" end
    if c == "\t" then return "\\t" end
    return string.format("\\u%04x", c:byte())
  end)
  return '"' .. s .. '"'
end

local thread_counter = 0

function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("thread_id", thread_counter)
end

if mode == "answer" then
  local requests = {}
  local index = 0

  function init(args)
    local headers = {
      ["Content-Type"] = "application/json",
      ["Accept"] = "application/json",
    }
    for i, item in ipairs(questions) do
      local body = '{"q":' .. json_string(item[2]) .. ',"lang":"' .. item[1] .. '"}'
      requests[i] = wrk.format("POST", "/api/v1/answer", headers, body)
    end
    -- Spread the threads over the list: thread n starts n*7 questions further on.
    index = ((thread_id or 1) * 7) % #requests
  end

  function request()
    index = index % #requests + 1
    return requests[index]
  end
end

local function ms(us)
  return string.format("%.2f", us / 1000.0)
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT label=%s requests=%d duration_s=%.2f rps=%.1f mean_ms=%s p50_ms=%s p90_ms=%s " ..
    "p99_ms=%s p999_ms=%s max_ms=%s errors_socket=%d errors_timeout=%d errors_status=%d\n",
    label, summary.requests, seconds, summary.requests / seconds,
    ms(latency.mean), ms(latency:percentile(50)), ms(latency:percentile(90)),
    ms(latency:percentile(99)), ms(latency:percentile(99.9)), ms(latency.max),
    e.connect + e.read + e.write, e.timeout, e.status))
end
