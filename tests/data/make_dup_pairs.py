"""Write tests/data/dup_pairs.jsonl: labelled article pairs for tuning near-duplicate detection.

Run from the repository root:  python tests/data/make_dup_pairs.py

Every text here was written for this project; the events, figures, quotes and people
quoted are fictional composites in the style of wire copy about Venezuela, kept
realistic so shingle statistics mean something. Nothing is copied from any outlet.

Each event has one agency story (the "wire"), one or two other outlets' own reporting
on the same event, and the agency's follow-up the next day, which reuses two background
paragraphs verbatim as agencies do. Syndicated copies of the wire are derived from it
the way newsrooms edit wire copy: new headline, trimmed tail, dropped paragraphs,
rewritten lead, an added local paragraph, house style, bylines and boilerplate.

Labels: ``relation`` is "copy" (the wire and a copy, or two copies: ``duplicate`` is
true), "same-event" (separately reported stories on one event, and next-day follow-ups)
or "other-event" (the same agency's stories on other events of the same beat).
Output is deterministic: same script, same bytes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

OUT = Path(__file__).with_name("dup_pairs.jsonl")


@dataclass(frozen=True, slots=True, kw_only=True)
class Story:
    title: str
    paragraphs: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    key: str
    lang: str
    dateline: str
    wire: Story
    footer: str
    alt_titles: tuple[str, str, str]
    alt_lead: str
    local: str
    caption: str
    independent: tuple[Story, ...]
    follow_up: Story  # its paragraphs "{6}" and "{7}" are the wire's background, verbatim


# --- English -------------------------------------------------------------------------------

AP_FOOTER = (
    "Copyright 2025 The Associated Press. All rights reserved. This material may not be "
    "published, broadcast, rewritten or redistributed without permission."
)
REUTERS_FOOTER = (
    "Reporting by the Caracas and Washington newsrooms; Editing by the Americas desk. "
    "Our Standards: The Thomson Reuters Trust Principles."
)

BOAT_STRIKE = Event(
    key="boat-strike",
    lang="en",
    dateline="WASHINGTON (AP) — ",
    footer=AP_FOOTER,
    wire=Story(
        title="US military strikes another alleged drug boat in the Caribbean, killing 4",
        paragraphs=(
            (
                "The U.S. military struck a vessel in the southern Caribbean on Tuesday, killing "
                "four people aboard, Defense Department officials said, in the latest attack in a "
                "campaign the Trump administration says targets drug traffickers operating out of "
                "Venezuela."
            ),
            (
                "A short video released by the Pentagon showed a small, fast-moving boat exploding "
                "after being hit by what appeared to be a missile. Officials said the vessel was "
                "operated by a designated terrorist organization and was carrying narcotics, but "
                "they did not say what kind of drugs or provide evidence."
            ),
            (
                "The strike was carried out in international waters north of the Paria Peninsula, "
                "according to a statement posted on social media. No U.S. forces were harmed, the "
                "statement said, and there were no survivors."
            ),
            (
                "The administration has argued that the United States is in an armed conflict with "
                "drug cartels it has labeled terrorist groups, including the Venezuelan gang Tren "
                "de Aragua, and that the strikes are lawful acts of self-defense."
            ),
            (
                "Legal scholars and some members of Congress have questioned that reasoning, saying "
                "the military is not permitted to kill suspected criminals who pose no imminent "
                "threat. Several lawmakers have asked the administration to release the legal "
                "opinion on which the strikes are based."
            ),
            (
                "Venezuela's government condemned the attack. Officials in Caracas said on state "
                "television that the people killed were fishermen from the coast of Sucre state, a "
                "claim that could not be independently verified."
            ),
            (
                "The strike was at least the 15th such attack since early September, when the "
                "military began targeting vessels in the Caribbean and later in the eastern "
                "Pacific. More than 60 people have been killed, according to figures released by "
                "the administration."
            ),
            (
                "The campaign has coincided with the largest buildup of U.S. naval forces in the "
                "region in decades, including warships, a nuclear-powered submarine and F-35 fighter "
                "jets stationed in Puerto Rico. Venezuelan President Nicolás Maduro has accused "
                "Washington of using the fight against drugs as a pretext to remove him from power."
            ),
            (
                "The United States does not recognize Maduro as Venezuela's legitimate leader and "
                "has offered a reward of $50 million for information leading to his arrest on drug "
                "trafficking charges, which he denies."
            ),
        ),
    ),
    alt_titles=(
        "Pentagon says strike on suspected drug vessel kills four off Venezuela",
        "4 dead as US hits another boat in Caribbean",
        "US strike kills four on alleged narco boat, officials say",
    ),
    alt_lead=(
        "Four people were killed when U.S. forces attacked a boat suspected of smuggling drugs "
        "in the southern Caribbean, the Pentagon said Tuesday, the latest in a string of lethal "
        "strikes the administration says are aimed at Venezuelan trafficking gangs."
    ),
    local=(
        "In South Florida, home to the largest Venezuelan community in the United States, "
        "reaction to the strikes has been divided. Some exiles have welcomed the pressure on "
        "Maduro's government, while immigrant advocates in Doral warn that the military "
        "campaign could make it harder for relatives still in Venezuela to leave."
    ),
    caption="A U.S. Navy destroyer sails in the Caribbean Sea. (U.S. Navy via AP)",
    independent=(
        Story(
            title="Fishermen on Trinidad's coast fear the next strike as US boat attacks continue",
            paragraphs=(
                (
                    "PORT OF SPAIN, Trinidad — When word spread along the docks at Cedros on "
                    "Tuesday that another boat had been blown apart in the waters between Trinidad "
                    "and Venezuela, fishermen pulled their pirogues onto the sand and stayed home."
                ),
                (
                    "The Pentagon said four people died in the attack, which it described as a "
                    "strike on a vessel run by a terrorist organization and loaded with narcotics. "
                    "It released a grainy video of the explosion but no other evidence about who "
                    "was on board or what the boat was carrying."
                ),
                (
                    "Fishermen in the village, which sits about seven miles from the Venezuelan "
                    "coast, say the strait is crowded with small boats of every kind: fishing crews, "
                    "traders moving food and fuel, and smugglers. From the air, they say, they all "
                    "look alike."
                ),
                (
                    "'Nobody tells us where they are going to hit,' said a fisherman who has worked "
                    "these waters for thirty years and asked not to be named for fear of reprisals. "
                    "'We go out at night because that is when the fish come. Now my wife asks me not "
                    "to go.'"
                ),
                (
                    "Trinidad and Tobago's government has publicly supported the U.S. deployment, a "
                    "position that has strained relations with Caracas. Venezuelan officials insisted "
                    "on Tuesday that the dead were fishermen, not traffickers."
                ),
                (
                    "Washington says it is in an armed conflict with cartels it has designated as "
                    "terrorist groups, and the Defense Department has called the strikes lawful. "
                    "Critics in Congress and among international law experts say the attacks amount "
                    "to extrajudicial killings."
                ),
                (
                    "In Cedros, the debate feels distant. The coast guard station has added patrols, "
                    "and some boat owners have started painting their registration numbers larger on "
                    "their hulls, hoping they will be visible from above."
                ),
            ),
        ),
        Story(
            title="U.S. says it killed four in new strike on vessel near Venezuela",
            paragraphs=(
                (
                    "WASHINGTON (Reuters) - The United States carried out a new military strike on "
                    "Tuesday against a vessel it accused of carrying drugs near Venezuela, killing "
                    "four men, the Pentagon said, as Washington presses a campaign that has alarmed "
                    "governments across Latin America."
                ),
                (
                    "In a post on social media, the Defense Department said the boat was operated by "
                    "a designated terrorist organization and was transiting a known trafficking route "
                    "when it was hit. It did not identify the group."
                ),
                (
                    "The strike took place in international waters in the Caribbean, the department "
                    "said. It was not immediately possible to verify the account, and the Pentagon "
                    "has not released details of the intelligence used to select targets."
                ),
                (
                    "Officials have acknowledged in closed briefings that they did not always know "
                    "the identities of those on board before a strike, according to two "
                    "congressional aides who spoke on condition of anonymity."
                ),
                (
                    "The campaign has pushed tensions with Caracas to their highest level in years. "
                    "Venezuela has mobilized troops and militia members along its coast and has "
                    "described the U.S. military presence as preparation for an invasion."
                ),
                (
                    "Colombia's government has also criticized the attacks after an earlier strike "
                    "killed one of its citizens, and Bogota recalled its ambassador in Washington for "
                    "consultations."
                ),
                (
                    "Oil prices were little changed on the news. Analysts said markets had largely "
                    "priced in the risk of a wider confrontation, given that Venezuela's exports have "
                    "already been reduced by sanctions."
                ),
                REUTERS_FOOTER,
            ),
        ),
    ),
    follow_up=Story(
        title="Senators press Pentagon for legal basis of Caribbean boat strikes after latest attack",
        paragraphs=(
            (
                "WASHINGTON (AP) — A bipartisan group of senators on Wednesday demanded that the "
                "Pentagon hand over the legal justification for its lethal strikes on suspected drug "
                "boats, a day after an attack in the southern Caribbean killed four people."
            ),
            (
                "In a letter to the defense secretary, the senators said Congress had never "
                "authorized the use of military force against drug cartels and that the "
                "administration's claim of an armed conflict with criminal groups had no precedent. "
                "They asked for a classified briefing within two weeks."
            ),
            (
                "'The American people deserve to know who we are killing and why,' one of the "
                "senators, a member of the Armed Services Committee, said in a statement."
            ),
            (
                "A Pentagon spokesperson said the department had briefed lawmakers and would continue "
                "to do so, and that every strike had been approved at the highest levels after a "
                "careful review of intelligence."
            ),
            (
                "The debate comes as the administration weighs its next steps toward Venezuela. "
                "Officials have not ruled out strikes on targets on land, which would mark a "
                "significant escalation."
            ),
            "{6}",
            "{7}",
            (
                "A vote on a resolution that would bar the use of force against Venezuela without "
                "congressional approval is expected later this month, though it is not expected to "
                "pass."
            ),
            AP_FOOTER,
        ),
    ),
)

MADURO_SPEECH = Event(
    key="maduro-speech",
    lang="en",
    dateline="CARACAS (Reuters) - ",
    footer=REUTERS_FOOTER,
    wire=Story(
        title="Maduro says Venezuela will 'never' surrender as U.S. warships patrol Caribbean",
        paragraphs=(
            (
                "Venezuelan President Nicolas Maduro told thousands of supporters in Caracas on "
                "Saturday that his country would never surrender to what he called threats from "
                "Washington, as the United States keeps a large naval force in the Caribbean."
            ),
            (
                "'Venezuela will never kneel before any empire,' Maduro said in a televised speech "
                "outside the presidential palace, flanked by military commanders and members of his "
                "cabinet. He said the armed forces and civilian militias were ready to defend the "
                "country's territory."
            ),
            (
                "Maduro said more than 8 million Venezuelans had registered to join the Bolivarian "
                "Militia, a civilian reserve force created by his predecessor Hugo Chavez. The figure "
                "could not be independently verified, and analysts have questioned the militia's "
                "training and equipment."
            ),
            (
                "He accused the administration of President Donald Trump of using the fight against "
                "drug trafficking as an excuse to seize Venezuela's oil reserves, the largest in the "
                "world, and to force a change of government."
            ),
            (
                "The White House has said its deployment, which includes destroyers, a "
                "guided-missile cruiser and thousands of sailors and Marines, is aimed at drug "
                "cartels that it says threaten the United States."
            ),
            (
                "Venezuela's opposition, which says it won last year's presidential election, "
                "dismissed the speech as propaganda. Opposition leaders have called on the military "
                "to break with Maduro, so far without success."
            ),
            (
                "The United States and dozens of other countries do not recognize Maduro's claim to "
                "have won the July 2024 election. Electoral tallies collected by the opposition "
                "showed its candidate, Edmundo Gonzalez, winning by a wide margin."
            ),
            (
                "Washington has doubled its reward for information leading to Maduro's arrest to $50 "
                "million. He was indicted in a U.S. court in 2020 on narco-terrorism charges, which "
                "he denies."
            ),
            (
                "Venezuela's economy, battered by years of hyperinflation and U.S. sanctions, has "
                "shown signs of slowing again this year after a modest recovery, and the bolivar has "
                "lost more than half its value against the dollar since January."
            ),
        ),
    ),
    alt_titles=(
        "Venezuela's Maduro vows never to surrender amid U.S. naval buildup",
        "Maduro rallies supporters, says militia ready to defend Venezuela",
        "'We will never kneel': Maduro defies U.S. pressure",
    ),
    alt_lead=(
        "Nicolas Maduro vowed on Saturday that Venezuela would never give in to U.S. pressure, "
        "telling a rally in the capital that soldiers and militia members were ready to repel "
        "any attack while American warships remain off the coast."
    ),
    local=(
        "In Houston, where many Venezuelan oil workers settled after leaving the state oil "
        "company PDVSA, several former employees said they watched the speech online with a mix "
        "of anger and fatigue, saying they had heard similar promises for years."
    ),
    caption="Supporters wave flags during a rally in Caracas on Saturday. (Reuters photo)",
    independent=(
        Story(
            title="Maduro rallies militia as US pressure mounts, but many Venezuelans tune out",
            paragraphs=(
                (
                    "CARACAS, Venezuela (AP) — Standing before rows of militia members in olive "
                    "uniforms, Nicolás Maduro delivered a familiar message on Saturday: the United "
                    "States wants Venezuela's oil, and his government will fight to keep it."
                ),
                (
                    "'Venezuela will never kneel before any empire,' the president said, repeating a "
                    "line he has used in several recent speeches as U.S. warships and aircraft gather "
                    "in the southern Caribbean."
                ),
                (
                    "Outside the government rally, however, many residents of the capital went about "
                    "their weekend errands. In the Catia neighborhood, shop owners said they were "
                    "more worried about rising prices than about the prospect of a military "
                    "confrontation."
                ),
                (
                    "'Every week the dollar is higher,' said a woman selling vegetables from a cart. "
                    "'That is the war we are fighting here.'"
                ),
                (
                    "Maduro claimed that millions of people have signed up for the civilian militia, "
                    "though independent observers say turnout at registration points has been "
                    "modest. The government has not published detailed figures."
                ),
                (
                    "The Trump administration says its military deployment targets drug trafficking "
                    "organizations, and it has carried out a series of deadly strikes on boats it "
                    "says were carrying drugs. Maduro's government calls the campaign an attempt to "
                    "oust him."
                ),
                (
                    "The opposition, whose candidate is widely believed to have won the 2024 "
                    "presidential election, did not hold any events in response to the rally."
                ),
                AP_FOOTER,
            ),
        ),
    ),
    follow_up=Story(
        title="Venezuela deploys troops to coast after Maduro's defiant speech",
        paragraphs=(
            (
                "CARACAS (Reuters) - Venezuela's defense ministry said on Sunday it was deploying "
                "thousands of soldiers and militia members to coastal states for exercises, a day "
                "after President Nicolas Maduro told supporters his country would never surrender to "
                "U.S. pressure."
            ),
            (
                "The exercises, which will include air defense drills and the movement of armored "
                "vehicles, will take place in the states of Falcon, Sucre and La Guaira over the next "
                "week, the ministry said in a statement."
            ),
            (
                "Defense officials said the drills were meant to show the country's readiness to "
                "respond to any incursion, and shared photos of Russian-made anti-aircraft systems "
                "being moved on trucks."
            ),
            (
                "The U.S. State Department did not immediately respond to a request for comment on "
                "the exercises."
            ),
            "{6}",
            "{7}",
            (
                "Military analysts said the deployment was largely symbolic, noting that Venezuela's "
                "forces suffer from shortages of spare parts and fuel."
            ),
            REUTERS_FOOTER,
        ),
    ),
)

GANG_CASE = Event(
    key="gang-case",
    lang="en",
    dateline="HOUSTON (AP) — ",
    footer=AP_FOOTER,
    wire=Story(
        title="Federal prosecutors charge 12 alleged Tren de Aragua members in Texas trafficking case",
        paragraphs=(
            (
                "Federal prosecutors in Texas have charged 12 people described as members of the "
                "Venezuelan gang Tren de Aragua with running a sex trafficking ring that forced women "
                "who had recently migrated to the United States to work in apartments across the "
                "Houston area, officials announced Thursday."
            ),
            (
                "The indictment, unsealed in federal court, accuses the defendants of recruiting "
                "women in Venezuela and Colombia with promises of restaurant and cleaning jobs, then "
                "holding them in debt bondage once they arrived, demanding payments of up to $30,000 "
                "for their travel."
            ),
            (
                "Prosecutors say the women were moved between apartments every few weeks to avoid "
                "detection and were threatened with violence against their families back home if "
                "they tried to leave or contact police."
            ),
            (
                "Ten of the defendants were arrested in raids on Wednesday, the U.S. attorney's "
                "office said. Two remain at large and are believed to have left the country. If "
                "convicted, they face up to life in prison."
            ),
            (
                "'These defendants treated human beings as property,' the U.S. attorney for the "
                "Southern District of Texas said at a news conference, adding that several victims "
                "were now receiving services from community organizations."
            ),
            (
                "Defense lawyers for the suspects could not immediately be reached for comment. Court "
                "records did not list attorneys for several of the defendants."
            ),
            (
                "Tren de Aragua began in a prison in the Venezuelan state of Aragua and has spread "
                "across South America as millions of Venezuelans fled economic collapse. The gang has "
                "been linked to extortion, human smuggling and killings in Colombia, Peru and Chile."
            ),
            (
                "The Trump administration designated the group a foreign terrorist organization this "
                "year and has cited it to justify deportations under the Alien Enemies Act, a wartime "
                "law. Researchers say the gang's presence in the United States is real but far "
                "smaller than officials have claimed."
            ),
            (
                "Immigrant advocates in Houston warned that the case should not be used to cast "
                "suspicion on the city's large Venezuelan community, most of whom have no connection "
                "to crime."
            ),
        ),
    ),
    alt_titles=(
        "12 charged in Houston sex trafficking ring tied to Venezuelan gang",
        "Tren de Aragua members accused of trafficking migrant women in Texas",
        "Feds: Venezuelan gang ran sex trafficking ring out of Houston apartments",
    ),
    alt_lead=(
        "A dozen alleged members of the Tren de Aragua gang have been indicted on federal "
        "charges of forcing migrant women into prostitution in and around Houston, prosecutors "
        "said Thursday."
    ),
    local=(
        "In Dallas, police said they were reviewing whether any of the apartments used by the "
        "ring had connections to North Texas after investigators found rental records for two "
        "units in Irving and Garland."
    ),
    caption="The federal courthouse in downtown Houston. (AP Photo)",
    independent=(
        Story(
            title="Neighbors describe raids at southwest Houston complex tied to trafficking case",
            paragraphs=(
                (
                    "HOUSTON — Residents of an apartment complex off Bissonnet Street said they woke "
                    "before dawn Wednesday to the sound of federal agents shouting and doors being "
                    "forced open, part of a series of raids that prosecutors later tied to a sex "
                    "trafficking case against alleged members of Tren de Aragua."
                ),
                (
                    "'There were maybe twenty cars, all with lights,' said a man who has lived in the "
                    "complex for six years. 'They brought out three or four guys in handcuffs and "
                    "then some women wrapped in blankets.'"
                ),
                (
                    "On Thursday, the U.S. attorney's office announced that 12 people had been "
                    "indicted on charges including sex trafficking and conspiracy. Ten were arrested "
                    "in the raids; two are believed to have fled the country."
                ),
                (
                    "According to court documents, women recruited in Venezuela and Colombia were "
                    "promised legitimate jobs and then told they owed tens of thousands of dollars "
                    "for their trip, which they were forced to repay through prostitution."
                ),
                (
                    "Neighbors said they had noticed men coming and going at all hours from two units "
                    "on the second floor, but assumed it was a party apartment. The property manager "
                    "did not respond to requests for comment."
                ),
                (
                    "Advocacy groups that work with trafficking survivors said they were helping "
                    "several of the women find housing and legal assistance."
                ),
            ),
        ),
    ),
    follow_up=Story(
        title="Judge orders alleged Tren de Aragua members held without bail in Houston case",
        paragraphs=(
            (
                "HOUSTON (AP) — A federal magistrate judge on Friday ordered eight of the alleged "
                "Tren de Aragua members charged in a Houston sex trafficking case to remain in "
                "custody until trial, saying they posed a danger to the community and a risk of "
                "flight."
            ),
            (
                "Prosecutors told the court that investigators had found ledgers recording payments "
                "from the women and messages in which the defendants discussed punishing those who "
                "did not pay. They also said one defendant had tried to wire money abroad hours "
                "before his arrest."
            ),
            (
                "Lawyers for several defendants argued that their clients were low-level workers who "
                "had themselves been coerced by the gang, and asked that they be released to "
                "relatives under electronic monitoring. The judge rejected those requests."
            ),
            "Hearings for the remaining two defendants in custody were postponed to next week.",
            "{6}",
            "{7}",
            (
                "The case is one of several federal prosecutions this year involving people accused "
                "of ties to the gang."
            ),
            AP_FOOTER,
        ),
    ),
)

DEPORTATION_FLIGHT = Event(
    key="deportation-flight",
    lang="en",
    dateline="CARACAS, Venezuela (AP) — ",
    footer=AP_FOOTER,
    wire=Story(
        title="Deportation flight carrying 180 Venezuelans lands in Caracas",
        paragraphs=(
            (
                "A flight carrying 180 Venezuelan migrants deported from the United States landed "
                "Friday at the main airport serving Caracas, the latest in a series of repatriation "
                "flights that have continued despite soaring tensions between the two governments."
            ),
            (
                "The passengers, most of them young men, were greeted on the tarmac at Simón Bolívar "
                "International Airport in Maiquetía by officials who handed out water and sandwiches "
                "before they were taken for health checks and interviews with police."
            ),
            (
                "Venezuela's government said the flight, operated by the state airline Conviasa, had "
                "departed from Harlingen, Texas, and that seven children were among the passengers. "
                "It was the third deportation flight to arrive this month."
            ),
            (
                "Officials have said returning migrants are screened for possible links to criminal "
                "groups, and several men on previous flights were detained on arrival. Human rights "
                "groups have expressed concern about the conditions in which those detained are held."
            ),
            (
                "The flights are one of the few areas of cooperation between Caracas and Washington. "
                "They resumed earlier this year after the Trump administration pressed Venezuela to "
                "accept deportees, threatening sanctions and tariffs on countries buying Venezuelan "
                "oil."
            ),
            (
                "Maduro's government has presented the returns as part of its 'Vuelta a la Patria' "
                "program, which it says has brought home more than a million Venezuelans from "
                "abroad, a figure that cannot be verified."
            ),
            (
                "More than 7.7 million Venezuelans have left their country since 2014, according to "
                "the United Nations, fleeing an economic collapse marked by hyperinflation, shortages "
                "of food and medicine and political repression."
            ),
            (
                "In March, the U.S. government sent more than 200 Venezuelan men to a "
                "maximum-security prison in El Salvador, accusing them of belonging to the Tren de "
                "Aragua gang. Many of their families and lawyers denied they had any gang ties, and "
                "the men were later sent to Venezuela in a prisoner exchange."
            ),
            (
                "Deportees interviewed on earlier flights have said they were held in U.S. "
                "immigration detention for weeks or months before being put on planes, and that some "
                "family members remained in the United States."
            ),
        ),
    ),
    alt_titles=(
        "180 deported Venezuelans arrive home on latest repatriation flight",
        "Deportation flights to Venezuela continue despite tensions",
        "Venezuela receives third US deportation flight this month",
    ),
    alt_lead=(
        "One hundred eighty Venezuelans deported from the United States arrived in Caracas on "
        "Friday, as repatriation flights between the two countries continue even as the Trump "
        "administration builds up military forces off Venezuela's coast."
    ),
    local=(
        "In Chicago, where hundreds of Venezuelan migrants were housed in city shelters in recent "
        "years, advocates said they had received calls from families trying to confirm whether "
        "relatives detained in immigration raids this fall were on the flight."
    ),
    caption="Deported migrants walk on the tarmac at the airport in Maiquetía. (AP Photo)",
    independent=(
        Story(
            title="At Maiquetía, deported Venezuelans return to a country many barely recognize",
            paragraphs=(
                (
                    "MAIQUETÍA, Venezuela — The men came down the stairs of the plane in gray "
                    "sweatsuits, some still wearing the plastic wristbands from U.S. detention "
                    "centers, and blinked in the midday heat."
                ),
                (
                    "They were among 180 Venezuelans deported from the United States who landed on "
                    "Friday at the airport outside Caracas, on a flight the government said had "
                    "departed from Texas. For many, it was the first time they had set foot in the "
                    "country in five or more years."
                ),
                (
                    "'I left when my son was a baby. He is in school now,' said one man, 29, who had "
                    "worked in construction in Dallas before being detained at a traffic stop in the "
                    "summer. He said he had no idea how he would find work."
                ),
                (
                    "Government officials staged a welcome with banners reading 'Welcome home' and "
                    "handed out bags with food. Police officers then took the men aside, one by one, "
                    "to check their names against databases."
                ),
                (
                    "The flights continue even as relations between Washington and Caracas have "
                    "deteriorated amid a U.S. military buildup in the Caribbean and deadly strikes on "
                    "boats the United States says carried drugs."
                ),
                (
                    "Relatives waiting outside the terminal said they had learned of the flight only "
                    "the night before, through messages in WhatsApp groups."
                ),
            ),
        ),
    ),
    follow_up=Story(
        title="Venezuela says it detained 5 deportees over alleged gang ties",
        paragraphs=(
            (
                "CARACAS, Venezuela (AP) — Venezuelan authorities said Saturday that they had "
                "detained five men who arrived on a deportation flight from the United States a day "
                "earlier, accusing them of having links to criminal groups, including the Tren de "
                "Aragua gang."
            ),
            (
                "The interior ministry said in a statement that the men were wanted on outstanding "
                "warrants for robbery and extortion in the states of Aragua and Carabobo. It did not "
                "release their names or say where they were being held."
            ),
            (
                "The remaining passengers on the flight, which carried 180 people, were allowed to "
                "return to their families after medical checks, the ministry said."
            ),
            (
                "Relatives of one of the detained men told The Associated Press that he had left "
                "Venezuela as a teenager and had never been accused of a crime. They said they had "
                "not been allowed to see him."
            ),
            "{6}",
            "{7}",
            "Another deportation flight is expected next week, according to Venezuelan officials.",
            AP_FOOTER,
        ),
    ),
)

# --- Spanish -------------------------------------------------------------------------------

EFE_FOOTER = (
    "© EFE 2025. Está expresamente prohibida la redistribución y la redifusión de todo o parte "
    "de los contenidos de los servicios de EFE, sin previo y expreso consentimiento de la "
    "Agencia EFE, S.A."
)
AFP_FOOTER = "© Agence France-Presse. Todos los derechos reservados."

LANCHA = Event(
    key="lancha",
    lang="es",
    dateline="Washington, 4 nov (EFE).- ",
    footer=EFE_FOOTER,
    wire=Story(
        title="EE.UU. ataca otra lancha en el Caribe y mata a tres personas",
        paragraphs=(
            (
                "El Ejército de Estados Unidos atacó este martes una lancha en aguas del Caribe y "
                "mató a las tres personas que iban a bordo, según informó el Departamento de Defensa, "
                "en una nueva operación contra embarcaciones que Washington vincula con el "
                "narcotráfico procedente de Venezuela."
            ),
            (
                "En un mensaje publicado en redes sociales, el Pentágono aseguró que la embarcación "
                "pertenecía a una organización designada como terrorista y que transportaba droga, "
                "aunque no precisó qué tipo de sustancia ni presentó pruebas de sus afirmaciones."
            ),
            (
                "El ataque se produjo en aguas internacionales, al norte de las costas venezolanas, y "
                "fue acompañado de un video en el que se observa una pequeña embarcación que navega a "
                "gran velocidad antes de estallar en llamas."
            ),
            (
                "Ningún militar estadounidense resultó herido en la operación, de acuerdo con el "
                "comunicado, que no identificó a las víctimas ni explicó qué ocurrió con los restos "
                "de la lancha."
            ),
            (
                "El Gobierno venezolano rechazó el ataque y lo calificó de 'ejecución extrajudicial'. "
                "Funcionarios en Caracas sostienen que entre los fallecidos en operaciones anteriores "
                "había pescadores y comerciantes de la región."
            ),
            (
                "La Administración estadounidense defiende que el país se encuentra en un 'conflicto "
                "armado' con los cárteles de la droga, a los que ha designado como organizaciones "
                "terroristas, entre ellos la banda venezolana Tren de Aragua."
            ),
            (
                "Con este ataque ya son al menos quince las operaciones de este tipo desde principios "
                "de septiembre, primero en el Caribe y después también en el Pacífico oriental, que "
                "han dejado más de sesenta muertos, según las cifras difundidas por Washington."
            ),
            (
                "Las acciones coinciden con el mayor despliegue militar de Estados Unidos en la región "
                "en décadas, que incluye buques de guerra, un submarino de propulsión nuclear y cazas "
                "F-35 desplegados en Puerto Rico, una presencia que el presidente venezolano, Nicolás "
                "Maduro, considera una amenaza para su país."
            ),
            (
                "Expertos en derecho internacional y varios congresistas demócratas han cuestionado "
                "la legalidad de los ataques y han pedido a la Casa Blanca que explique ante el "
                "Congreso en qué se basa para usar la fuerza militar contra presuntos "
                "narcotraficantes."
            ),
        ),
    ),
    alt_titles=(
        "Pentágono: tres muertos en nuevo ataque contra una lancha en el Caribe",
        "Nuevo bombardeo de EE.UU. en el Caribe deja tres muertos",
        "Estados Unidos destruye otra embarcación frente a Venezuela",
    ),
    alt_lead=(
        "Tres personas murieron este martes en un nuevo bombardeo de las fuerzas "
        "estadounidenses contra una embarcación en el mar Caribe que, según el Pentágono, "
        "trasladaba drogas vinculadas a redes criminales venezolanas."
    ),
    local=(
        "En Güiria, un pueblo pesquero del estado Sucre situado frente a Trinidad y Tobago, los "
        "pescadores consultados por este diario aseguraron que desde hace semanas salen a faenar "
        "con miedo y que muchos han optado por no alejarse de la costa después del anochecer."
    ),
    caption="Imagen de archivo de un buque de la Armada de EE.UU. en el Caribe. EFE",
    independent=(
        Story(
            title="Familias de Sucre temen por los pescadores tras el nuevo ataque estadounidense",
            paragraphs=(
                (
                    "Cumaná.- La noticia de un nuevo ataque de Estados Unidos contra una lancha en el "
                    "Caribe llegó a los muelles del estado Sucre poco antes del mediodía del martes y "
                    "corrió de teléfono en teléfono entre las familias que tienen a algún pariente en "
                    "el mar."
                ),
                (
                    "Washington informó de que en la operación murieron tres personas y afirmó que la "
                    "embarcación llevaba droga por cuenta de una organización terrorista. No divulgó "
                    "los nombres de los fallecidos ni el lugar exacto del ataque, más allá de señalar "
                    "que ocurrió en aguas internacionales."
                ),
                (
                    "En la zona, donde la pesca artesanal es el principal sustento de miles de "
                    "familias, la incertidumbre es doble: nadie sabe quiénes iban a bordo y nadie "
                    "sabe si la próxima lancha será la de un vecino."
                ),
                (
                    "'Aquí todo el mundo conoce a alguien que sale de noche', contó una comerciante "
                    "de pescado del puerto de Cumaná que pidió no ser identificada. 'Si se equivocan, "
                    "¿quién nos va a responder?'"
                ),
                (
                    "Las autoridades venezolanas calificaron el ataque de asesinato y anunciaron que "
                    "denunciarán a Estados Unidos ante organismos internacionales. Dirigentes "
                    "pesqueros de la región pidieron a ambos gobiernos que publiquen la identidad de "
                    "las víctimas."
                ),
                (
                    "Organizaciones de derechos humanos locales recordaron que la costa de Sucre es "
                    "también ruta de contrabando de combustible y de migrantes hacia Trinidad y "
                    "Tobago, lo que hace difícil distinguir desde el aire entre una lancha pesquera y "
                    "una dedicada al delito."
                ),
            ),
        ),
    ),
    follow_up=Story(
        title="Venezuela denunciará ante la ONU los ataques de EE.UU. contra lanchas en el Caribe",
        paragraphs=(
            (
                "Caracas, 5 nov (EFE).- El Gobierno de Venezuela anunció este miércoles que "
                "presentará una denuncia formal ante el Consejo de Seguridad de la ONU por los "
                "ataques de Estados Unidos contra embarcaciones en el Caribe, un día después de que "
                "una nueva operación dejara tres muertos."
            ),
            (
                "El canciller venezolano afirmó en una rueda de prensa que los bombardeos constituyen "
                "'una violación flagrante del derecho internacional' y pidió a los países de la "
                "región que se pronuncien contra lo que describió como una escalada militar."
            ),
            (
                "Según el ministro, Caracas ha enviado cartas a la Secretaría General de Naciones "
                "Unidas con información sobre los fallecidos y exigirá una investigación "
                "independiente sobre cada uno de los ataques."
            ),
            (
                "Washington no respondió de inmediato a las declaraciones. Portavoces del "
                "Departamento de Estado han reiterado en las últimas semanas que las operaciones "
                "están dirigidas contra 'narcoterroristas' y que seguirán mientras sea necesario."
            ),
            "{6}",
            "{7}",
            (
                "El Consejo de Seguridad ya celebró en octubre una sesión de emergencia a petición de "
                "Venezuela, sin que se adoptara ninguna resolución."
            ),
            EFE_FOOTER,
        ),
    ),
)

DISCURSO = Event(
    key="discurso-maduro",
    lang="es",
    dateline="Caracas (AFP) - ",
    footer=AFP_FOOTER,
    wire=Story(
        title="Maduro llama a los venezolanos a alistarse en la milicia ante el despliegue de EE.UU.",
        paragraphs=(
            (
                "El presidente venezolano, Nicolás Maduro, llamó este sábado a millones de "
                "venezolanos a alistarse en la Milicia Bolivariana durante un acto multitudinario en "
                "Caracas, en el que acusó a Estados Unidos de preparar una agresión militar contra el "
                "país."
            ),
            (
                "'Venezuela no se va a rendir ante ninguna amenaza imperial', dijo Maduro ante miles "
                "de seguidores reunidos en la avenida Bolívar, en un discurso de más de una hora "
                "transmitido en cadena nacional de radio y televisión."
            ),
            (
                "El mandatario aseguró que más de ocho millones de personas se han inscrito en la "
                "milicia, una cifra que no pudo ser verificada de forma independiente, y anunció "
                "nuevas jornadas de registro en plazas y cuarteles de todo el país durante el fin de "
                "semana."
            ),
            (
                "Maduro sostuvo que el despliegue naval estadounidense en el Caribe busca 'un cambio "
                "de régimen' y no la lucha contra el narcotráfico, como afirma Washington, y pidió a "
                "las Fuerzas Armadas mantenerse en 'máxima alerta'."
            ),
            (
                "El acto incluyó desfiles de milicianos con uniformes verdes y fusiles de asalto, así "
                "como la presencia de ministros y altos mandos militares, que reiteraron su lealtad "
                "al jefe de Estado."
            ),
            (
                "La oposición venezolana, que denuncia fraude en la reelección de Maduro en las "
                "presidenciales de julio de 2024, calificó la convocatoria como un intento de "
                "distraer la atención de la crisis económica y de la represión contra sus dirigentes."
            ),
            (
                "Estados Unidos, que no reconoce a Maduro como presidente legítimo, ofrece una "
                "recompensa de 50 millones de dólares por información que conduzca a su captura, al "
                "acusarlo de encabezar una red de narcotráfico, algo que el mandatario niega."
            ),
            (
                "Desde septiembre, fuerzas estadounidenses han destruido más de una decena de "
                "embarcaciones en el Caribe y el Pacífico que, según Washington, transportaban "
                "drogas, en ataques que han causado decenas de muertos y que Caracas califica de "
                "ejecuciones extrajudiciales."
            ),
            (
                "Analistas consultados por AFP consideran que el Gobierno venezolano busca proyectar "
                "unidad interna ante la presión externa, aunque dudan de la capacidad real de la "
                "milicia para hacer frente a una fuerza militar como la estadounidense."
            ),
        ),
    ),
    alt_titles=(
        "Maduro pide alistamiento masivo en la milicia y acusa a EE.UU. de preparar una agresión",
        "Maduro: 'Venezuela no se va a rendir'",
        "Multitudinario acto chavista en Caracas contra el despliegue naval estadounidense",
    ),
    alt_lead=(
        "Ante miles de simpatizantes en el centro de Caracas, Nicolás Maduro pidió este sábado a "
        "la población sumarse masivamente a la Milicia Bolivariana y denunció que Washington "
        "prepara un ataque contra Venezuela."
    ),
    local=(
        "En Madrid, donde reside una de las mayores comunidades de venezolanos en Europa, "
        "asociaciones de exiliados convocaron para el domingo una concentración en la Puerta del "
        "Sol para pedir la liberación de los presos políticos en Venezuela."
    ),
    caption="Milicianos desfilan durante el acto en Caracas. Foto: AFP",
    independent=(
        Story(
            title="Entre consignas y uniformes, el chavismo llena la avenida Bolívar",
            paragraphs=(
                (
                    "Caracas.- Desde temprano, autobuses llegados de distintos estados del país "
                    "descargaron a miles de empleados públicos, milicianos y militantes del partido "
                    "de Gobierno en los alrededores de la avenida Bolívar, donde Nicolás Maduro "
                    "encabezó este sábado un nuevo acto contra lo que su Gobierno llama 'la amenaza "
                    "imperial'."
                ),
                (
                    "En su intervención, el mandatario repitió que 'Venezuela no se va a rendir ante "
                    "ninguna amenaza imperial' y pidió a quienes aún no lo han hecho que acudan a los "
                    "puntos de registro de la Milicia Bolivariana, que según sus cifras ya supera los "
                    "ocho millones de inscritos."
                ),
                (
                    "Varios asistentes consultados por este medio reconocieron que habían sido "
                    "convocados desde sus lugares de trabajo. 'Nos dijeron que había que venir', "
                    "comentó una maestra de Valencia que viajó de madrugada con sus compañeros."
                ),
                (
                    "Otros, en cambio, defendieron con entusiasmo la movilización. Un miliciano de 62 "
                    "años, con un fusil de madera al hombro para el desfile, dijo estar dispuesto a "
                    "'defender la patria' si los barcos estadounidenses se acercan a la costa."
                ),
                (
                    "El discurso se produjo en medio de la mayor presencia militar de Estados Unidos "
                    "en el Caribe en décadas y después de semanas de ataques contra lanchas que "
                    "Washington asocia con el narcotráfico."
                ),
                (
                    "La oposición no convocó ninguna actividad en respuesta, aunque dirigentes en el "
                    "exilio difundieron mensajes en redes sociales en los que acusaron al Gobierno de "
                    "usar recursos públicos para movilizar a los trabajadores."
                ),
            ),
        ),
    ),
    follow_up=Story(
        title="Largas filas en cuarteles venezolanos tras el llamado de Maduro a la milicia",
        paragraphs=(
            (
                "Caracas (AFP) - Cientos de personas hicieron fila este domingo frente a cuarteles y "
                "plazas de Caracas para inscribirse en la Milicia Bolivariana, un día después de que "
                "el presidente Nicolás Maduro pidiera un alistamiento masivo ante el despliegue "
                "militar estadounidense en el Caribe."
            ),
            (
                "En el Fuerte Tiuna, el principal complejo militar de la capital, voluntarios de "
                "todas las edades entregaban sus datos en mesas instaladas bajo toldos, mientras "
                "soldados les explicaban el calendario de entrenamientos de fin de semana."
            ),
            (
                "'Vine porque hay que estar preparados', dijo a AFP un jubilado de 70 años que "
                "esperaba su turno con su cédula en la mano. Otros asistentes señalaron que se "
                "trataba de su segundo registro, tras haberse inscrito en jornadas anteriores."
            ),
            (
                "El ministro de Defensa aseguró en un mensaje en redes sociales que la jornada había "
                "superado las expectativas, sin ofrecer cifras concretas."
            ),
            "{6}",
            "{7}",
            (
                "Observadores independientes han señalado que buena parte de los milicianos carece "
                "de entrenamiento militar formal y de equipamiento adecuado."
            ),
            AFP_FOOTER,
        ),
    ),
)

TREN_CHILE = Event(
    key="tren-de-aragua-chile",
    lang="es",
    dateline="Santiago de Chile, 12 nov (EFE).- ",
    footer=EFE_FOOTER,
    wire=Story(
        title="Condenan en Chile a 18 miembros del Tren de Aragua por secuestros y extorsión",
        paragraphs=(
            (
                "Un tribunal de Santiago condenó este miércoles a 18 integrantes de una facción del "
                "Tren de Aragua a penas de entre cinco y cuarenta años de cárcel por delitos de "
                "secuestro, extorsión, tráfico de migrantes y asociación criminal, informó la "
                "Fiscalía chilena."
            ),
            (
                "Se trata de uno de los mayores juicios contra la banda de origen venezolano en el "
                "país, que llegó a la fase oral tras una investigación de más de dos años encabezada "
                "por la Fiscalía de Alta Complejidad de la región Metropolitana."
            ),
            (
                "Según la acusación, el grupo operaba desde campamentos en la periferia de la capital "
                "y cobraba 'cuotas' a comerciantes y trabajadoras sexuales, a quienes amenazaba de "
                "muerte si no pagaban."
            ),
            (
                "Los fiscales sostuvieron además que la organización mantenía secuestrados a "
                "migrantes recién llegados al país hasta que sus familiares pagaban rescates que en "
                "algunos casos superaban los diez mil dólares."
            ),
            (
                "La mayor condena, de cuarenta años, recayó sobre el hombre identificado como líder "
                "de la facción, un ciudadano venezolano de 34 años que fue detenido en 2023 en un "
                "operativo en la comuna de Estación Central."
            ),
            (
                "El fiscal a cargo del caso celebró el fallo y afirmó que demuestra que 'el crimen "
                "organizado transnacional puede ser desarticulado con investigaciones sólidas'."
            ),
            (
                "El Tren de Aragua nació hace más de una década en la cárcel de Tocorón, en el estado "
                "venezolano de Aragua, y se ha expandido por varios países de América Latina "
                "aprovechando las rutas de la migración venezolana."
            ),
            (
                "Estados Unidos designó a la banda como organización terrorista a comienzos de 2025 y "
                "la ha vinculado, sin presentar pruebas públicas, con el Gobierno de Nicolás Maduro, "
                "que niega cualquier relación con el grupo."
            ),
            (
                "En Chile, el asesinato de un exmilitar venezolano opositor en 2024, atribuido por la "
                "Fiscalía a miembros de la organización, elevó la tensión diplomática entre Santiago "
                "y Caracas."
            ),
        ),
    ),
    alt_titles=(
        "Hasta 40 años de cárcel para 18 miembros del Tren de Aragua en Chile",
        "Golpe judicial al Tren de Aragua en Santiago",
        "Chile condena a una facción del Tren de Aragua por secuestros de migrantes",
    ),
    alt_lead=(
        "La justicia chilena impuso este miércoles condenas de hasta cuarenta años de prisión a "
        "dieciocho miembros del Tren de Aragua, acusados de secuestrar y extorsionar a migrantes "
        "y comerciantes en Santiago."
    ),
    local=(
        "En el Perú, donde la policía atribuye a facciones del Tren de Aragua decenas de "
        "extorsiones a transportistas en Lima, el fallo fue seguido con atención por autoridades "
        "que buscan replicar el modelo de investigación chileno."
    ),
    caption="Vista de la sala del tribunal durante la lectura de la sentencia. EFE",
    independent=(
        Story(
            title="Las víctimas del Tren de Aragua en Estación Central: 'Pagábamos o nos mataban'",
            paragraphs=(
                (
                    "Santiago.- Durante casi dos años, la dueña de un pequeño almacén en Estación "
                    "Central entregó cada viernes un sobre con dinero a dos jóvenes que llegaban en "
                    "moto. El miércoles, sentada al fondo de la sala del tribunal, escuchó cómo se "
                    "leían las condenas contra quienes la extorsionaron."
                ),
                (
                    "El Cuarto Tribunal de Juicio Oral en lo Penal de Santiago sentenció a 18 "
                    "miembros de una facción del Tren de Aragua, entre ellos su presunto cabecilla, "
                    "que recibió cuarenta años de cárcel. La mujer, que declaró como testigo "
                    "protegida, prefirió no dar su nombre."
                ),
                (
                    "'Pagábamos o nos mataban. Así de simple', dijo a la salida. Contó que varios "
                    "comerciantes del sector cerraron sus negocios durante ese tiempo y que otros se "
                    "fueron a vivir a otras comunas."
                ),
                (
                    "Durante el juicio, la Fiscalía presentó escuchas telefónicas, registros de "
                    "transferencias y el testimonio de migrantes que relataron haber sido retenidos "
                    "en casas de la periferia hasta que sus familias pagaban por su liberación."
                ),
                (
                    "Vecinos del barrio dicen que la presencia policial aumentó tras las detenciones "
                    "de 2023, pero advierten que otras bandas han ocupado parte del espacio que dejó "
                    "la organización."
                ),
                (
                    "Expertos en seguridad consultados por este diario señalan que el fallo es "
                    "relevante, pero que la desarticulación de una facción no significa el fin de la "
                    "banda, cuya estructura se organiza en células con bastante autonomía."
                ),
            ),
        ),
    ),
    follow_up=Story(
        title="Chile pedirá la extradición de otros dos cabecillas del Tren de Aragua",
        paragraphs=(
            (
                "Santiago de Chile, 13 nov (EFE).- El Gobierno de Chile anunció este jueves que "
                "solicitará la extradición de dos presuntos líderes del Tren de Aragua detenidos en "
                "Colombia, un día después de que un tribunal de Santiago condenara a 18 miembros de "
                "la banda."
            ),
            (
                "El ministro de Seguridad Pública explicó que ambos sospechosos están acusados de "
                "ordenar secuestros y homicidios en territorio chileno y que la solicitud se "
                "tramitará a través de la Corte Suprema en los próximos días."
            ),
            (
                "La autoridad afirmó que la cooperación con Colombia y Perú ha sido clave para "
                "localizar a miembros de la organización que huyeron de Chile tras los primeros "
                "operativos."
            ),
            (
                "Las condenas del miércoles, de entre cinco y cuarenta años de prisión, fueron "
                "recibidas con satisfacción por el Gobierno, que las consideró un 'mensaje claro' "
                "contra el crimen organizado."
            ),
            "{6}",
            "{7}",
            (
                "Chile y Venezuela no mantienen relaciones consulares plenas desde 2024, lo que "
                "dificulta el intercambio de antecedentes penales de los migrantes venezolanos."
            ),
            EFE_FOOTER,
        ),
    ),
)

PRESOS = Event(
    key="presos-politicos",
    lang="es",
    dateline="Caracas, 20 oct (EFE).- ",
    footer=EFE_FOOTER,
    wire=Story(
        title="Foro Penal contabiliza 880 presos políticos en Venezuela",
        paragraphs=(
            (
                "La ONG venezolana Foro Penal contabilizó 880 presos políticos en el país hasta el "
                "pasado viernes, una cifra que incluye a militares, dirigentes opositores, activistas "
                "y ciudadanos detenidos durante las protestas que siguieron a las elecciones "
                "presidenciales de 2024."
            ),
            (
                "Según el balance difundido este lunes por la organización, 78 de los detenidos son "
                "mujeres y al menos cuatro eran menores de edad en el momento de su arresto, mientras "
                "que más de 150 permanecen sin haber sido presentados ante un tribunal."
            ),
            (
                "El vicepresidente de la ONG explicó en una rueda de prensa que en las últimas "
                "semanas se registraron nuevas detenciones de periodistas y defensores de derechos "
                "humanos, a pesar de algunas excarcelaciones anunciadas por el Gobierno."
            ),
            (
                "Foro Penal denunció además que decenas de familias desconocen el paradero de sus "
                "parientes detenidos, una situación que, según la organización, podría constituir "
                "desaparición forzada de acuerdo con el derecho internacional."
            ),
            (
                "El Gobierno de Nicolás Maduro niega que en Venezuela haya presos políticos y sostiene "
                "que los detenidos son responsables de delitos como terrorismo, instigación al odio o "
                "conspiración contra el Estado."
            ),
            (
                "El fiscal general venezolano afirmó la semana pasada que más de dos mil personas "
                "arrestadas tras los comicios han sido liberadas con medidas cautelares y que el "
                "resto será juzgado 'con todas las garantías'."
            ),
            (
                "La oposición mayoritaria y buena parte de la comunidad internacional no reconocen la "
                "proclamación de Maduro como ganador de las presidenciales del 28 de julio de 2024, "
                "al considerar que las actas electorales demuestran la victoria del candidato "
                "opositor Edmundo González Urrutia."
            ),
            (
                "Tras aquellas elecciones, las protestas en todo el país dejaron 28 muertos y unas "
                "2.400 personas detenidas, según cifras oficiales, en la mayor ola de represión "
                "registrada en Venezuela en años."
            ),
            (
                "La Misión Internacional Independiente de Determinación de los Hechos de la ONU sobre "
                "Venezuela ha advertido en sus informes que las detenciones arbitrarias forman parte "
                "de una política de Estado para silenciar la disidencia."
            ),
        ),
    ),
    alt_titles=(
        "ONG denuncia que Venezuela suma 880 presos políticos",
        "Foro Penal: 880 presos políticos y nuevas detenciones de periodistas",
        "Aumentan las detenciones de periodistas en Venezuela, según Foro Penal",
    ),
    alt_lead=(
        "Venezuela tiene 880 presos políticos, según el último recuento de la ONG Foro Penal, "
        "que alertó de nuevas detenciones de periodistas y activistas en las últimas semanas."
    ),
    local=(
        "En Cúcuta, en la frontera con Venezuela, familiares de varios detenidos que viven en "
        "Colombia desde hace años explicaron a este diario que no han podido visitar a sus "
        "parientes y que dependen de abogados voluntarios para recibir información."
    ),
    caption="Familiares de detenidos protestan frente a la Fiscalía en Caracas. EFE/Archivo",
    independent=(
        Story(
            title="Madres de presos políticos en Venezuela: 'No sabemos si siguen vivos'",
            paragraphs=(
                (
                    "Caracas.- Frente a la sede del Ministerio Público, una decena de mujeres "
                    "sostenía este lunes fotografías de sus hijos y esposos detenidos. Todas habían "
                    "escuchado esa mañana el nuevo balance de Foro Penal, que eleva a 880 el número "
                    "de presos políticos en el país."
                ),
                (
                    "'Las cifras no dicen lo que es esperar en una puerta sin que nadie te responda', "
                    "dijo una de ellas, madre de un joven arrestado en agosto de 2024 en "
                    "Barquisimeto. Desde entonces, aseguró, solo ha podido verlo dos veces."
                ),
                (
                    "La ONG indicó en su informe que más de 150 detenidos no han sido presentados "
                    "ante un juez y que varias familias desconocen en qué centro de reclusión se "
                    "encuentran sus parientes."
                ),
                (
                    "Abogados de la organización explicaron a este medio que las audiencias se "
                    "aplazan una y otra vez, a veces sin notificar a los defensores, y que muchos "
                    "procesos se tramitan en tribunales con competencia en terrorismo."
                ),
                (
                    "El Gobierno venezolano rechaza el término de presos políticos. En una "
                    "declaración reciente, el fiscal general aseguró que los detenidos enfrentan "
                    "cargos por delitos comunes y que sus derechos están garantizados."
                ),
                (
                    "Para las mujeres que esperaban frente a la Fiscalía, la respuesta oficial no "
                    "cambia nada. Antes del mediodía, funcionarios de seguridad les pidieron "
                    "retirarse de la acera."
                ),
            ),
        ),
    ),
    follow_up=Story(
        title="Excarcelan a 15 presos políticos en Venezuela, según Foro Penal",
        paragraphs=(
            (
                "Caracas, 21 oct (EFE).- Al menos 15 personas consideradas presos políticos fueron "
                "excarceladas este martes en Venezuela, informó la ONG Foro Penal, un día después de "
                "que la organización contabilizara 880 detenidos por razones políticas en el país."
            ),
            (
                "Entre los liberados hay dos dirigentes sindicales y un periodista regional, que "
                "recibieron medidas cautelares como la presentación periódica ante los tribunales y "
                "la prohibición de salir del país, según el director de la ONG."
            ),
            (
                "La organización celebró las excarcelaciones, pero advirtió de que en la misma semana "
                "se produjeron nuevas detenciones, por lo que el número total de presos políticos se "
                "mantiene prácticamente sin cambios, un fenómeno que denomina 'puerta giratoria'."
            ),
            (
                "El Gobierno no se pronunció sobre las liberaciones, que se produjeron de forma "
                "discreta en centros de reclusión de Caracas y del estado Lara."
            ),
            "{6}",
            "{7}",
            "Foro Penal publicará un nuevo balance a finales de mes.",
            EFE_FOOTER,
        ),
    ),
)

EVENTS = (
    BOAT_STRIKE,
    MADURO_SPEECH,
    GANG_CASE,
    DEPORTATION_FLIGHT,
    LANCHA,
    DISCURSO,
    TREN_CHILE,
    PRESOS,
)

# --- how outlets edit wire copy ------------------------------------------------------------

BYLINES = {
    "en": (
        "By Maria Alvarez and John Keller",
        "By the Associated Press",
        "From staff and wire reports",
    ),
    "es": ("Redacción Internacional", "Por Ana López | Agencias", "Agencia EFE / Redacción"),
}
SITE_BOILERPLATE = {
    "en": (
        (
            "Sign up for our morning newsletter to get the day's top stories delivered to your "
            "inbox. Follow us on Facebook, X and Instagram for breaking news updates."
        ),
        "Read more: What to know about the U.S. military buildup in the Caribbean",
    ),
    "es": (
        (
            "Suscríbete a nuestro boletín y recibe cada mañana las noticias más importantes. "
            "Síguenos también en nuestro canal de WhatsApp."
        ),
        "Lea también: Claves del despliegue militar de EE.UU. en el Caribe",
    ),
}
# house-style copy edits, as (pattern, replacement); applied in order
HOUSE_STYLE = {
    "en": (
        (r"\bU\.S\.", "US"),
        (r"\bmore than\b", "over"),
        (r"\bDefense Department\b", "Department of Defense"),
        (r"\$(\d+) million\b", r"\1 million dollars"),
        (r"\bon (Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b", r"\1"),
    ),
    "es": (
        (r"\bEE\.UU\.", "Estados Unidos"),
        (r"\beste (lunes|martes|miércoles|jueves|viernes|sábado|domingo)\b", r"el \1"),
        (r"\bsegún (el|la|los|las)\b", r"de acuerdo con \1"),
        (r"\bafirmó\b", "aseguró"),
        (r"\bGobierno (venezolano|de Chile)\b", r"Ejecutivo \1"),
        (r"\bdijo\b", "declaró"),
    ),
}


def published(event: Event) -> Story:
    """The wire as the agency sends it: dateline on the lead, agency footer."""
    first, *rest = event.wire.paragraphs
    return Story(
        title=event.wire.title,
        paragraphs=(event.dateline + first, *rest, event.footer),
    )


def body(event: Event) -> list[str]:
    return list(event.wire.paragraphs)


def copy_of(
    event: Event,
    paragraphs: list[str],
    *,
    title: int,
    byline: int | None = None,
    boilerplate: int | None = None,
    footer: bool = False,
) -> Story:
    lang = event.lang
    head = [BYLINES[lang][byline]] if byline is not None else []
    tail = [SITE_BOILERPLATE[lang][boilerplate]] if boilerplate is not None else []
    if footer:
        tail.append(event.footer)
    return Story(title=event.alt_titles[title], paragraphs=(*head, *paragraphs, *tail))


def house_style(event: Event, paragraphs: list[str]) -> list[str]:
    edited = []
    for paragraph in paragraphs:
        for pattern, replacement in HOUSE_STYLE[event.lang]:
            paragraph = re.sub(pattern, replacement, paragraph)
        edited.append(paragraph)
    return edited


def copies(event: Event) -> dict[str, Story]:
    """Syndicated copies of the wire, each as one outlet would run it."""
    p = body(event)
    lead_edited = [event.alt_lead, *p[1:]]
    with_local = [*p[:3], event.local, event.caption, *p[3:]]
    return {
        # same body, new headline, outlet byline and newsletter box, no agency footer
        "republished": copy_of(
            event, [event.dateline + p[0], *p[1:]], title=0, byline=0, boilerplate=0
        ),
        # papers cut wire copy from the bottom
        "trim-tail": copy_of(event, p[:-2], title=1, footer=True),
        "trim-heavy": copy_of(event, p[:4], title=2, boilerplate=1),
        "drop-middle": copy_of(event, [*p[:4], *p[6:]], title=0, byline=1),
        "lead-edit": copy_of(event, lead_edited, title=1, byline=2),
        "local-add": copy_of(event, with_local, title=2, footer=True),
        "house-style": copy_of(event, house_style(event, p), title=0, boilerplate=0),
        # rewritten lead + house style + cut tail + local paragraph + site furniture
        "combo": copy_of(
            event,
            house_style(event, [event.alt_lead, *p[1:3], event.local, *p[3:-2]]),
            title=1,
            byline=0,
            boilerplate=1,
        ),
        # a regional paper: first four paragraphs and its own local angle
        "heavy-local": copy_of(event, [*p[:4], event.local], title=2, byline=1, boilerplate=0),
    }


def follow_up(event: Event) -> Story:
    wire = event.wire.paragraphs
    paragraphs = tuple(
        wire[int(p[1])] if p in ("{6}", "{7}") else p for p in event.follow_up.paragraphs
    )
    return replace(event.follow_up, paragraphs=paragraphs)


# --- pairs ---------------------------------------------------------------------------------

COPY_PAIRS = (
    ("trim-tail", "local-add"),
    ("lead-edit", "drop-middle"),
    ("trim-heavy", "combo"),
    ("house-style", "heavy-local"),
)
# unrelated-but-nearby stories from the same agency (same footer, same beat)
CROSS_EVENT = (
    (BOAT_STRIKE, MADURO_SPEECH),
    (BOAT_STRIKE, GANG_CASE),
    (GANG_CASE, DEPORTATION_FLIGHT),
    (BOAT_STRIKE, DEPORTATION_FLIGHT),
    (LANCHA, DISCURSO),
    (LANCHA, TREN_CHILE),
    (TREN_CHILE, PRESOS),
    (DISCURSO, PRESOS),
)


def pairs() -> list[dict]:
    rows = []

    def add(event: Event, kind: str, relation: str, a: Story, b: Story) -> None:
        rows.append(
            {
                "id": f"{event.lang}/{event.key}/{kind}",
                "lang": event.lang,
                "event": event.key,
                "kind": kind,
                "relation": relation,
                "duplicate": relation == "copy",
                "a": {"title": a.title, "text": a.text},
                "b": {"title": b.title, "text": b.text},
            }
        )

    for event in EVENTS:
        wire = published(event)
        variants = copies(event)
        later = follow_up(event)
        for name, copy in variants.items():
            add(event, f"wire~{name}", "copy", wire, copy)
        for left, right in COPY_PAIRS:
            add(event, f"{left}~{right}", "copy", variants[left], variants[right])
        for i, other in enumerate(event.independent):
            add(event, f"wire!independent{i}", "same-event", wire, other)
            add(event, f"republished!independent{i}", "same-event", variants["republished"], other)
            add(event, f"combo!independent{i}", "same-event", variants["combo"], other)
            add(event, f"independent{i}!follow-up", "same-event", other, later)
        if len(event.independent) > 1:
            add(event, "independent0!independent1", "same-event", *event.independent[:2])
        add(event, "wire!follow-up", "same-event", wire, later)
        add(event, "trim-tail!follow-up", "same-event", variants["trim-tail"], later)
        add(event, "local-add!follow-up", "same-event", variants["local-add"], later)
    for left, right in CROSS_EVENT:
        add(left, f"wire!{right.key}", "other-event", published(left), published(right))
        add(left, f"follow-up!{right.key}", "other-event", follow_up(left), follow_up(right))
    return rows


def main() -> None:
    rows = pairs()
    with OUT.open("w", encoding="utf-8", newline="\n") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    positives = sum(row["duplicate"] for row in rows)
    print(f"wrote {len(rows)} pairs ({positives} duplicate, {len(rows) - positives} not) to {OUT}")


if __name__ == "__main__":
    main()
