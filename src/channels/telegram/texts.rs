//! The Telegram channel's own words: the greeting of `/start`, `/help`, and the note on
//! messages that are not text. Everything about the city's services comes from the core.

use crate::language::Lang;

/// `/start`: who answers here (an automated assistant, EU AI Act Art. 50), how to reach a
/// person, and where the privacy notice is.
pub fn greeting(lang: Lang, privacy: Option<&str>) -> String {
    let mut text = match lang {
        Lang::De => "Guten Tag! Hier antwortet der digitale Assistent der Stadtverwaltung – ein \
                     automatisches Programm, kein Mensch. Er antwortet mit den Texten aus dem \
                     Leistungskatalog der Stadt und nennt die Quelle.\n\n\
                     Schreiben Sie Ihre Frage einfach in eigenen Worten, zum Beispiel „Was kostet \
                     ein Reisepass?“.\n\n\
                     Mit einem Menschen sprechen: /mensch"
            .to_string(),
        Lang::En => "Hello! This is the city administration's digital assistant – an automated \
                     program, not a person. It answers with the texts of the city's service \
                     catalogue and names the source.\n\n\
                     Just write your question in your own words, for example “How much is a \
                     passport?”.\n\n\
                     Talk to a person: /agent"
            .to_string(),
    };
    push_privacy(&mut text, lang, privacy);
    text
}

/// `/help`, and commands the bot does not know.
pub fn help(lang: Lang, privacy: Option<&str>) -> String {
    let mut text = match lang {
        Lang::De => "So geht es: Schreiben Sie Ihre Frage zu einer Leistung der Stadt als \
                     Textnachricht. Sie bekommen eine kurze Antwort mit dem Link zur Seite der \
                     Stadt; passt mehr als eine Leistung, wählen Sie per Knopf.\n\n\
                     /mensch – mit einer Mitarbeiterin oder einem Mitarbeiter sprechen\n\
                     /start – Begrüßung\n\n\
                     Ich lese nur Text: Fotos, Sprachnachrichten, Dateien und Standorte kann ich \
                     nicht auswerten."
            .to_string(),
        Lang::En => "How it works: write your question about a city service as a text message. \
                     You get a short answer with the link to the city's page; if more than one \
                     service fits, pick one with a button.\n\n\
                     /agent – talk to a member of staff\n\
                     /start – greeting\n\n\
                     I only read text: I cannot look at photos, voice messages, files or \
                     locations."
            .to_string(),
    };
    push_privacy(&mut text, lang, privacy);
    text
}

/// The reply to a photo, sticker, voice message, file or location.
pub fn media_note(lang: Lang) -> String {
    match lang {
        Lang::De => "Danke! Ich kann leider nur Textnachrichten lesen – Fotos, Sprachnachrichten, \
                     Dateien und Standorte nicht. Bitte schreiben Sie Ihre Frage als Text. Mit \
                     /mensch erreichen Sie eine Mitarbeiterin oder einen Mitarbeiter."
            .to_string(),
        Lang::En => "Thank you! I'm afraid I can only read text messages – not photos, voice \
                     messages, files or locations. Please write your question as text. To reach \
                     a member of staff, send /agent."
            .to_string(),
    }
}

/// The short note on a button that no longer works (an old keyboard).
pub fn stale_button(lang: Lang) -> &'static str {
    match lang {
        Lang::De => "Diese Auswahl gilt nicht mehr. Bitte stellen Sie Ihre Frage neu.",
        Lang::En => "This choice is no longer available. Please ask again.",
    }
}

fn push_privacy(text: &mut String, lang: Lang, privacy: Option<&str>) {
    if let Some(url) = privacy {
        text.push_str(match lang {
            Lang::De => "\n\nDatenschutzhinweise: ",
            Lang::En => "\n\nPrivacy notice: ",
        });
        text.push_str(url);
    }
}
