//! The channels that carry conversations beyond the widget: each turns its own traffic into
//! [`crate::dialogue::Inbound`] messages for [`crate::conversations::Conversations`] and
//! renders the replies in its own format. Staff replies from the console reach a channel's
//! citizens through the [`outbox`], which keeps them until they are sent.

pub mod email;
pub mod html;
pub mod outbox;
pub mod phone;
pub mod telegram;
