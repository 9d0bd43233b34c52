/// Text made safe inside XML and HTML markup (element content and quoted attribute values).
public enum MarkupText {
    /// `& < > " '` replaced by references; `'` as `&#39;`, which HTML 4, HTML 5 and XML all accept.
    public static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}
