//! Entry point: everything is in the library, so that tests reach what the binary runs.

fn main() -> std::process::ExitCode {
    mailtrap_access::main()
}
