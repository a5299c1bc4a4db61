"""Dates, numbers, places and names the evidence gives otherwise, on sentences of the kind news prints."""

import pytest

from factcheck.pipeline.mismatch import content_coverage, extract_values, find_mismatches, negation_spans, shares_topic

MEETINGS = (
    "Consultations on the issue took place in Geneva on January 10, followed by a meeting of the Russia-NATO "
    "Council in Brussels on January 12 and a session of the Permanent Council of the Organization for Security "
    "and Cooperation in Europe ( OSCE) in Vienna on 13 January."
)


def pairs(claim, evidence):
    return [(m.kind, m.claim_text, m.evidence_text) for m in find_mismatches(claim, evidence)]


@pytest.mark.parametrize(
    "claim, expected",
    [
        ("The Russia-NATO Council met in Brussels on January 14.", [("date", "January 14", "January 12")]),
        ("The Russia-NATO Council met in Brussels on January 12.", []),
        ("The OSCE Permanent Council session took place in Geneva.", [("place", "Geneva", "Vienna")]),
        ("The OSCE Permanent Council session took place in Vienna.", []),
        ("Consultations took place in Geneva on January 10.", []),
        ("Consultations took place in Vienna on January 10.", [("place", "Vienna", "Geneva")]),
        ("The OSCE session in Vienna was on 15 January.", [("date", "15 January", "13 January")]),
    ],
)
def test_each_value_is_compared_with_the_value_given_for_the_same_event(claim, expected):
    assert pairs(claim, MEETINGS) == expected


def test_mismatch_spans_index_the_document():
    document = "Header line.\n" + MEETINGS
    offset = document.index(MEETINGS)
    (mismatch,) = find_mismatches("The Russia-NATO Council met in Brussels on January 14.", MEETINGS, offset)
    assert document[mismatch.evidence_start : mismatch.evidence_end] == "January 12"
    claim = "The Russia-NATO Council met in Brussels on January 14."
    assert claim[mismatch.claim_start : mismatch.claim_end] == "January 14"


def test_dates_in_an_opening_phrase_numbers_and_weekdays():
    drafts = (
        "On December 17, 2021, the Russian Foreign Ministry published a draft agreement on security guarantees "
        "between Russia and the United States."
    )
    assert pairs("Russia's Foreign Ministry published draft security agreements on December 17, 2021.", drafts) == []
    assert pairs("Russia's Foreign Ministry published draft security agreements on December 19, 2021.", drafts) == [
        ("date", "December 19, 2021", "December 17, 2021")
    ]
    assert pairs("Police arrested 12 protesters in the city centre.", "Police arrested 15 protesters in the city centre.") == [
        ("number", "12", "15")
    ]
    meeting = "Following Friday’s meeting between Sergei Lavrov and Anthony Blinken in Geneva, Washington agreed to reply."
    assert pairs("Blinken and Lavrov met in Geneva on Friday.", meeting) == []
    assert pairs("Blinken and Lavrov met in Geneva on Monday.", meeting) == [("date", "Monday", "Friday")]


@pytest.mark.parametrize(
    "claim, evidence",
    [
        ("The plant will open in 2026.", "The plant will open next year; the old one closed in 2019."),
        ("Sales rose 10% in 2023.", "Sales rose 10% last year, after falling 5% in 2022."),
        ("The deficit will reach 4.2% of GDP in 2025.", "The deficit will reach 4.2% of GDP next year, up from 3.9% in 2024."),
        ("In 2019 the old plant closed.", "In 2019 the old plant closed; the new one will open in 2026."),
        # A relative date by the claim's words may be the claim's date; the absolute one dates the other event.
        ("The bridge opened in 2010.", "The bridge opened 13 years ago and was closed in 2023 for repairs."),
        ("The suspect was arrested on Monday.", "The suspect was arrested yesterday and charged on Wednesday."),
    ],
)
def test_a_date_of_another_event_than_the_claims_is_not_its_rival(claim, evidence):
    # The year after the clause about the claim's subject dates another event; the claim's own may be relative.
    assert pairs(claim, evidence) == []


def test_evidence_about_something_else_is_not_a_mismatch():
    assert pairs("Police arrested 12 people in Paris.", MEETINGS) == []
    restrictions = (
        "The proposed measures include guarantees that NATO will not advance eastward, including the membership of "
        "Ukraine. They also impose restrictions on the deployment of serious offensive weapons, including nuclear ones."
    )
    assert pairs("Russia's proposals would restrict the deployment of nuclear weapons.", restrictions) == []


def test_values_are_found_with_their_offsets():
    text = "On 3 March 2020 about 1,200 people marched in Lisbon."
    values = {(v.kind, v.text) for v in extract_values(text)}
    assert {("date", "3 March 2020"), ("number", "1,200"), ("place", "Lisbon")} <= values
    for v in extract_values(text):
        assert text[v.start : v.end] == v.text


def test_negation_words_and_topic_overlap():
    text = "The document will not contain any commitments, and they didn’t object."
    assert [text[s:e] for s, e in negation_spans(text)] == ["not", "n’t"]
    assert shares_topic("The document will contain commitments.", text)
    assert not shares_topic("Ukraine applied to join the European Union.", text)


def test_an_abbreviation_in_capitals_is_not_the_pronoun_it_spells():
    claim = "The US response will contain security proposals."
    diet = "Fruit and vegetables contain vitamins that protect us against heart disease."
    assert not shares_topic(claim, diet)
    assert shares_topic(claim, "The U.S. response contains proposals, a senior official said.")
    assert shares_topic("WHO declared an emergency.", "The WHO declared a global emergency on Thursday.")
    assert content_coverage("WHO declared an emergency.", "Those who declared it an emergency were wrong.") == 2 / 3


def test_a_scale_word_belongs_to_its_number():
    text = "The terminal cost 48 million euros, of which the regional government paid 30 million."
    assert pairs("The terminal cost 84 million euros.", text) == [("number", "84 million", "48 million")]
    assert pairs("The terminal cost 48 million euros.", text) == []
    assert pairs("The terminal cost 48 billion euros.", text) == [("number", "48 billion", "48 million")]


def test_negation_counts_only_in_the_clause_about_the_claim():
    from factcheck.pipeline.mismatch import negation_clash

    window = (
        "The proposed measures include guarantees that NATO will not advance eastward. "
        "They also impose restrictions on the deployment of serious offensive weapons, including nuclear ones."
    )
    assert negation_clash("The proposals would restrict the deployment of offensive weapons.", window)[0] is False
    clash, spans = negation_clash("NATO will advance eastward.", window)
    assert clash and [window[s:e] for s, e in spans] == ["not"]


def test_a_negation_is_shown_with_what_it_denies():
    from factcheck.pipeline.mismatch import negated_phrase

    def phrase(text: str, negation: str) -> str:
        start = text.index(negation)
        return text[slice(*negated_phrase(text, start, start + len(negation)))]

    assert phrase("The response will not contain any commitments.", "not") == "will not contain"
    assert phrase("The minister didn’t attend the summit.", "n’t") == "didn’t attend"
    assert phrase("There were no casualties.", "no") == "were no casualties"
    assert phrase("He left without paying", "without") == "without paying"
    assert phrase("Not true.", "Not") == "Not true"
    assert phrase("It is not.", "not") == "is not"


def test_a_number_the_claim_gives_for_something_else_is_no_rival():
    evidence = "Warren Sapp was charged with soliciting prostitution and two counts of assault in February."
    assert find_mismatches("Sapp, 42, was charged with soliciting prostitution and two counts of assault in February.", evidence) == []
    wrong = find_mismatches("Sapp was charged with soliciting prostitution and three counts of assault in February.", evidence)
    assert [(m.claim_text, m.evidence_text) for m in wrong] == [("three", "two")]


def test_aliases_and_abbreviations_are_one_value():
    evidence = "Officials said the migrants crossed from inside the United States into Canada on foot."
    assert pairs("Migrants crossed the US border into Canada.", evidence) == []
    assert pairs("Migrants crossed the U.S. border into Canada.", evidence) == []
    assert pairs("The minister flew to Britain in May.", "The minister flew to the UK in May.") == []
    # An acronym is the name it abbreviates; a place the gazetteer does not know may lie in any other (a shop, a
    # district), so it is no rival; two known towns far apart still are.
    evidence = "She spent a week inside Kentucky Fried Chicken, eating."
    assert pairs("She spent a week in KFC.", evidence) == []
    assert pairs("She spent a week in IKEA.", evidence) == []
    assert pairs("She spent a week in Milan.", "She spent a week in Naples, eating.") == [("place", "Milan", "Naples")]


def test_a_capitalised_sentence_opener_is_no_name():
    values = {v.text for v in extract_values("Luckily the Noid stayed away. Most people agreed.")}
    assert "Luckily" not in values and "Most" not in values
    assert pairs("Luckily, nobody was hurt in the fire.", "Fortunately, nobody was hurt in the fire.") == []


def test_a_value_rivals_only_a_value_of_the_same_type():
    # a nationality is no rival of a country, a place of unknown type none of a person
    assert pairs("ISIL fighters were caught on the U.S. border.", "ISIL fighters were caught on the Mexican border.") == []
    assert pairs(
        "Militants killed an American journalist in Syria.", "Militants killed an American journalist, Syrian sources say."
    ) == []
    # a person rivals a person of the same role
    assert pairs("Mayor Ana Ribeiro opened the terminal.", "Mayor John Smith opened the terminal.") == [
        ("name", "Mayor Ana Ribeiro", "Mayor John Smith")
    ]
    # numbers rival numbers of the same unit only
    crossing = "The first crossing to Santa Cruz left at 7:15 with 212 passengers on board."
    assert pairs("The first ferry to Santa Cruz carried 212 passengers.", crossing) == []
    assert pairs("The first ferry to Santa Cruz carried 120 passengers.", crossing) == [("number", "120", "212")]
    assert pairs("He wrote the poems after 1938.", "He wrote one of his last poems in 1938.") == []


def test_headline_capitals_are_not_names():
    body = "Vice founder Shane Smith paid for a dinner for a group of 12 at a steakhouse in Las Vegas."
    assert pairs("Vice Media Chief Said to Pay For Dinner In Las Vegas", body) == []


def test_a_rounded_number_is_the_same_number():
    assert find_mismatches("The gold watch could cost $5,000.", "The gold watch could cost $4,999, an analyst said.") == []
    assert find_mismatches("The basic model costs $500.", "The basic model costs $499.") == []
    assert find_mismatches("The gold watch could cost $5,000.", "The gold watch may sell for as much as $4,999.") == []
    # Whole numbers under 100 do not round: 57 is not 56, and 84 million is not 48 million.
    assert [m.evidence_text for m in find_mismatches("He died at 57 years old.", "He died at 56 years old.")] == ["56"]
    assert find_mismatches("The terminal cost 84 million euros.", "The terminal cost 48 million euros.")


def test_a_round_figure_is_the_numbers_that_round_to_it_within_ten_percent():
    assert find_mismatches("Police found 40 students in the bus.", "Police found 43 students in the bus.") == []
    assert find_mismatches("Some 4,700 people marched.", "About 5,000 people marched.") == []
    # 47 rounds to 50, not 40; 24 to 20, but 20% off; "1 million" is no round figure for 1.4 million.
    assert find_mismatches("Police found 40 students in the bus.", "Police found 47 students in the bus.")
    assert find_mismatches("He scored 20 points.", "He scored 24 points.")
    assert find_mismatches("The city has 1 million residents.", "The city has 1.4 million residents.")
    assert find_mismatches("The first ferry carried 120 passengers.", "The first ferry carried 212 passengers.")
    # Years are dates, which never round: 2010 is not 2013.
    assert find_mismatches("The company was founded in 2010.", "The company was founded in 2013.")


def test_a_number_after_a_noun_is_a_label_and_rivals_only_the_same_label():
    # An age is no rival of a rank.
    assert find_mismatches("Rapper Big Bank Hank dies at age 57", "Big Bank Hank's song was No. 248 on the list of hits.") == []
    assert [m.evidence_text for m in find_mismatches("Flight 370 landed in Perth.", "Flight 307 landed in Perth.")] == ["307"]


def test_a_place_does_not_clash_with_its_adjective_or_the_region_around_it():
    assert find_mismatches("A dog was abandoned at a Scottish train station.", "A dog was abandoned at a railway station in Scotland.") == []
    assert find_mismatches("A dog was abandoned at Ayr station.", "A dog was abandoned at a railway station in Scotland.") == []
    # Two towns far apart, or two regions, still clash; a borough and its city, or a district, do not.
    assert find_mismatches("The council met in Geneva.", "The council met in Brussels.")
    assert find_mismatches("The storm caused floods in Texas on Monday.", "The storm caused floods in Florida on Monday.")
    fire = "A fire broke out in a restaurant in {} on Sunday, officials said."
    assert find_mismatches(fire.format("Brooklyn"), fire.format("New York City")) == []
    assert find_mismatches(fire.format("Soho"), fire.format("London")) == []
    assert find_mismatches(fire.format("Heathrow"), fire.format("London")) == []


@pytest.mark.parametrize(
    "claim, evidence",
    [
        ("The storm killed at least 12 people.", "The storm killed 15 people, officials said on Monday."),
        ("More than 300 people were evacuated from the town.", "Officials said 340 people were evacuated from the town."),
        ("Fewer than 100 people attended the rally.", "Police estimated that 80 people attended the rally."),
        ("About 300 people were evacuated.", "312 people were evacuated."),
        ("50 or more people attended the meeting.", "Organisers said 65 people attended the meeting."),
        ("The gold watch will cost $5,000.", "The gold watch will cost $4,000 and up."),
        ("The deal is worth $1.5m.", "The deal is worth $1.5 million, according to people familiar with the matter."),
        ("The company raised £2.5bn from investors.", "The company raised £2.5 billion from investors last year."),
        ("The singer ripped up an $800 million contract.", "A report said the singer ripped up an $800 contract."),
        ("Profit rose 8% last year.", "Revenue rose 12% last year, and profit rose 8%."),
        ("The summit opened on March 3.", "Leaders arrived on March 2 and the summit opened the following day."),
        ("The suspect was arrested on Sunday.", "Police said on Tuesday that the suspect had been arrested."),
        ("Sales rose 8% in 2023.", "The company said in a report published in March 2024 that its sales rose 8% last year."),
        ("Unemployment rose by 2 percentage points.", "Unemployment rose from 3% to 5% over the year."),
    ],
)
def test_bounds_short_scales_ties_relative_days_report_dates_and_points_are_no_clash(claim, evidence):
    assert pairs(claim, evidence) == []


def test_what_the_evidence_gives_otherwise_still_clashes():
    assert pairs("The storm killed 12 people.", "The storm killed 15 people, officials said on Monday.") == [("number", "12", "15")]
    assert pairs("At least 20 people died in the fire.", "Nine people died in the fire.") == [("number", "20", "Nine")]
    # A date in what was said, not in when it was said, is the event's.
    assert pairs("The suspect was arrested on Sunday.", "Police said the suspect was arrested on Tuesday.") == [
        ("date", "Sunday", "Tuesday")
    ]
    assert pairs("The government will spend £2 billion on hospitals.", "The government will spend £3bn on hospitals.") == [
        ("number", "2 billion", "3bn")
    ]
    assert pairs("The company was fined $1 billion.", "The company was fined $1 million.") == [("number", "1 billion", "1 million")]
    assert pairs("20 or fewer people attended the meeting.", "Organisers said 65 people attended the meeting.") == [
        ("number", "20", "65")
    ]


@pytest.mark.parametrize(
    "claim, evidence",
    [
        ("Nearly 2,000 people joined the protest.", "Police put the crowd at 1,850, while organisers said 3,000 people had joined the march."),
        ("The watch will cost $550.", "Analysts expect the watch to cost $350, $550 or $950, depending on the model and the strap."),
        (
            "The premium model could cost $5,000.",
            "She expects the basic model to start at about $999; the premium model, she says, will cost $4,999.",
        ),
    ],
)
def test_a_passage_that_also_gives_the_claims_figure_is_no_clash(claim, evidence):
    # Two sources' counts, or a list of prices: the passage holds the claim's figure too, so nothing in it says the
    # claim is false; the other figure is about something else or from someone else.
    assert pairs(claim, evidence) == []


def test_a_range_allows_every_value_in_it():
    survey = "Between 5 and 7 percent of voters are still undecided, according to the survey."
    assert pairs("Six percent of voters are undecided.", survey) == []
    assert pairs("Between 5 and 7 percent of voters remain undecided.", "The poll found that 6 percent of voters remain undecided.") == []
    assert pairs("Analysts expect growth of 6% this year.", "Analysts expect growth of 5-7% this year.") == []
    assert pairs("The project will cost $1.7 billion.", "Officials estimate the project will cost $1.6bn to $2bn.") == []
    # A value outside the range still clashes; a vote's "59-41" and a change "from 3% to 5%" are no ranges.
    assert pairs("Analysts expect growth of 9% this year.", "Analysts expect growth of 5-7% this year.") == [("number", "9", "5-7")]
    assert pairs("Analysts expect growth of 5-7% this year.", "Analysts expect growth of 3% this year.") == [("number", "5-7", "3")]
    assert pairs("The bill passed 61-39.", "The bill passed 59-41.") == [("number", "61", "59"), ("number", "39", "41")]
    assert pairs("Unemployment rose to 4%.", "Unemployment rose from 3% to 5%.") == [("number", "4", "3")]


def test_a_date_in_digits_is_a_date_not_numbers():
    # "12/05/2021" was three bare numbers, and "12" clashed with the suspect's age.
    arrest = "Police said the 34-year-old suspect was arrested on 12 May 2021 at an address in Leeds."
    assert pairs("The suspect was arrested on 12/05/2021.", arrest) == []
    assert pairs("The vote was held on 04/05/2023.", "The vote, held on May 4, 2023, passed 61-39.") == []
    assert pairs("The deal was signed on 2022-03-04.", "The deal was signed on March 4, 2022, by 27 member states.") == []
    # Where the order of day and month is unknown (04/05 is April 5 or 4 May) only the year is compared.
    assert pairs("The vote was held on 04/05/2023.", "The vote was held on June 4, 2023.") == []
    assert pairs("The vote was held on 04/05/2023.", "The vote was held on May 4, 2024.") == [("date", "04/05/2023", "May 4, 2024")]
    assert pairs("The vote was held on 15/05/2023.", "The vote was held on May 4, 2023.") == [("date", "15/05/2023", "May 4, 2023")]
    assert pairs("The deal was signed on 2022-03-04.", "The deal was signed on May 4, 2022.") == [("date", "2022-03-04", "May 4, 2022")]


def test_a_lists_item_number_counts_nothing():
    evidence = "1) Increased federal enforcement. The FBI budget was cut.\n2) Fewer agents.\n(3) 40 offices closed."
    assert [v.text for v in extract_values(evidence) if v.kind == "number"] == ["40"]
    assert find_mismatches("The FBI has a budget of 900 million a year.", evidence) == []
    assert pairs("The FBI closed 30 offices.", evidence) == [("number", "30", "40")]


def test_a_number_whose_dot_may_separate_thousands_is_compared_with_nothing():
    # "10.000" is ten thousand in much of Europe and ten in English: it neither clashes with "10,000" nor with 10.
    assert pairs("The stadium holds 10,000 fans.", "The stadium holds 10.000 fans and was renovated in 2016.") == []
    assert pairs("The stadium holds 10 fans.", "The stadium holds 10.000 fans.") == []
    # Decimals that cannot be thousands are still read: 2.5 is no 2.05.
    assert pairs("The company raised £2.5bn.", "The company raised £2.05bn.") == [("number", "2.5bn", "2.05bn")]


def test_every_year_of_a_list_is_a_date():
    # "2023" after "and" was a bare number: the claim's 2023 met only the list's first year, 2022.
    profits = "Profits rose 5% and 8% in 2022 and 2023 respectively."
    assert pairs("Profits rose 8% in 2023.", profits) == []
    assert pairs("The plant was inspected in 2021.", "The plant was inspected in 2019, 2020 or 2021.") == []
    assert pairs("Profits rose 8% in 2024.", profits) == [("date", "2024", "2022")]


def test_a_change_is_no_rival_of_a_level():
    # News writes "by 0.5%" for half a percentage point; "to 4.5%" is where the rate ended, not the size of the rise.
    rates = "The bank raised interest rates by half a percentage point to 4.5%."
    assert pairs("The bank raised interest rates by 0.5%.", rates) == []
    assert pairs("The bank raised interest rates to 5%.", rates) == [("number", "5", "4.5")]
    assert pairs("The bank raised interest rates by 0.5%.", "The bank raised interest rates by 0.25%.") == [("number", "0.5", "0.25")]
    assert pairs("Sales rose 7%.", "Sales rose by about 5% to $40 million.") == [("number", "7", "5")]


def test_a_relative_date_far_from_the_claims_words_leaves_the_clash():
    assert pairs("The suspect was arrested on Monday.", "The suspect was arrested on Tuesday and charged a day later.") == [
        ("date", "Monday", "Tuesday")
    ]
